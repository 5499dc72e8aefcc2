"""The browser tier: Debian's Chromium driven by Playwright against the real local stack.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium``
(``CHROMIUM_PATH`` overrides it; ``make browser`` installs it when missing).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.journeys import running_stack, untraced_test_client  # noqa: F401 (autouse)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def stack() -> Iterator[object]:
    """The running local stack (started here unless one is already up)."""
    yield from running_stack()


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """A headless Chromium (the machine's, never a downloaded one).

    Package-scoped: Playwright's sync API keeps an event loop running on this
    thread while it is open, which would break later asyncio tests.
    """
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} missing: run `make browser`"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context()
    tab = context.new_page()
    yield tab
    context.close()
