"""The e2e tier: the whole local stack with the real Collector and Jaeger.

The session starts the stack (or reuses one a developer already has up) and
stops what it started. Journeys go through the frontend over real HTTP; the
traces are fetched back from the tracing backends the stack runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from opentelemetry.instrumentation.utils import suppress_instrumentation

from services.db.seed import seed_password, seed_user
from tests.e2e.journeys import LoggedIn
from tracelab.shapes.backends import JaegerClient

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _untraced_test_client() -> Iterator[None]:
    """Keep this process's own HTTP calls out of the traces under test.

    When the unit tier runs in the same pytest process, ``requests`` is
    instrumented there, and would inject this process's trace context into
    the journeys' requests (overriding a test's own ``traceparent``).
    """
    with suppress_instrumentation():
        yield


@pytest.fixture(scope="session")
def stack() -> Iterator[object]:
    """The running local stack (started here unless one is already up)."""
    from tracelab.stack import Stack

    local_stack = Stack(ROOT)
    already_up = local_stack.is_ready()
    info = local_stack.up(timeout=180)
    yield info
    if not already_up and not os.environ.get("TRACELAB_KEEP_STACK"):
        local_stack.down()


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
        user = seed_user(n)
        response = http.post(
            f"{frontend_url}/api/login",
            json={"email": user.email, "password": seed_password(n)},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return LoggedIn(user_id=body["user_id"], email=user.email, token=body["token"])

    return _login
