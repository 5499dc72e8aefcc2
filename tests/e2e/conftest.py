"""The e2e tier: the whole local stack with the real Collector and Jaeger.

The session starts the stack (or reuses one a developer already has up) and
stops what it started. Journeys go through the frontend over real HTTP; the
traces are fetched back from the tracing backends the stack runs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

# Fixtures shared with the browser tier; importing them here registers them
# (untraced_test_client is autouse).
from tests.e2e.journeys import (  # noqa: F401
    LoggedIn,
    log_in,
    running_stack,
    untraced_test_client,
)
from tracelab.shapes.backends import JaegerClient

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def stack() -> Iterator[object]:
    """The running local stack (started here unless one is already up)."""
    yield from running_stack()


@pytest.fixture(scope="session")
def frontend_url(stack) -> str:
    return stack.urls["frontend"]


@pytest.fixture(scope="session")
def backends(stack) -> dict[str, object]:
    """Every tracing backend this stack runs, by name (local mode: Jaeger)."""
    clients: dict[str, object] = {"jaeger": JaegerClient(stack.urls["jaeger"])}
    if "tempo" in stack.urls:
        from tracelab.shapes.backends import TempoClient

        clients["tempo"] = TempoClient(stack.urls["tempo"])
    return clients


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="session")
def login(http, frontend_url):
    """Log a seed user in through the frontend."""

    def _login(n: int = 1) -> LoggedIn:
        return log_in(http, frontend_url, n)

    return _login
