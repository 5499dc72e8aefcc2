"""The browser tier: Debian's Chromium driven by Playwright against the real local stack.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium``
(``CHROMIUM_PATH`` overrides it; ``make browser`` installs it when missing).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import journeys

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

pytestmark = pytest.mark.e2e

stack = journeys.stack
untraced_test_client = journeys.untraced_test_client  # autouse


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
            executable_path=CHROMIUM,
            headless=True,
            # Background networking is refused by this machine's closed network.
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
        )
        yield instance
        instance.close()


SCREENSHOTS = Path(__file__).resolve().parents[2] / "results" / "screenshots"


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1440, "height": 960})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def screenshot():
    """Save a screenshot of ``page`` as results/screenshots/console-<name>.png (a test artifact)."""

    def _take(page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"console-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _take
