"""Drive each user journey of DESIGN.md section 3 through the frontend."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from opentelemetry.instrumentation.utils import suppress_instrumentation

from tracelab.journeys import JOURNEYS as CATALOGUE
from tracelab.journeys import Journey
from tracelab.shapes.matcher import match
from tracelab.shapes.shape import load_shape


@dataclass(frozen=True)
class LoggedIn:
    """A seed user with a fresh token."""

    user_id: int
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(autouse=True)
def untraced_test_client() -> Iterator[None]:
    """Keep this process's own HTTP calls out of the traces under test.

    When the unit tier runs in the same pytest process, ``requests`` is
    instrumented there, and would inject this process's trace context into
    the journeys' requests (overriding a test's own ``traceparent``).
    """
    with suppress_instrumentation():
        yield


@pytest.fixture(scope="session")
def stack() -> Iterator[object]:
    """The running local stack: started here unless one is already up, then stopped."""
    from tracelab.stack import Stack

    local_stack = Stack(Path(__file__).resolve().parents[2])
    already_up = local_stack.is_ready()
    info = local_stack.up(timeout=180)
    yield info
    if not already_up and not os.environ.get("TRACELAB_KEEP_STACK"):
        local_stack.down()


@pytest.fixture(scope="session")
def frontend_url(stack) -> str:
    """The stack's frontend, where journeys start."""
    return stack.urls["frontend"]


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    """One HTTP session for the tier's requests."""
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="session")
def login(http, frontend_url):
    """Log a seed user in through the frontend (whichever stack ``frontend_url`` is)."""

    def _login(n: int = 1) -> LoggedIn:
        return log_in(http, frontend_url, n)

    return _login


def log_in(http: requests.Session, frontend_url: str, n: int) -> LoggedIn:
    """Log seed user ``n`` in through the frontend."""
    from services.db.seed import seed_password, seed_user

    user = seed_user(n)
    response = http.post(
        f"{frontend_url}/api/login",
        json={"email": user.email, "password": seed_password(n)},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return LoggedIn(user_id=body["user_id"], email=user.email, token=body["token"])


def trace_id_of(response: requests.Response) -> str:
    """The trace id from a response's W3C ``traceresponse`` header."""
    header = response.headers.get("traceresponse")
    assert header, f"no traceresponse header on {response.request.method} {response.url}"
    version, trace_id, span_id, flags = header.split("-")
    assert version == "00" and len(trace_id) == 32 and len(span_id) == 16 and len(flags) == 2
    return trace_id


# The seed user each journey runs as (distinct users keep the journeys' traces apart).
JOURNEY_USERS = {"login": 2, "profile": 3, "dashboard": 4, "bad_token": 1, "not_found": 5}
JOURNEYS = list(CATALOGUE)


def drive(journey: Journey, http: requests.Session, url: str, login) -> requests.Response:
    """Send ``journey``'s request (from :mod:`tracelab.journeys`) through the frontend."""
    user = JOURNEY_USERS[journey.name]
    token = login(user).token if journey.needs_token else None
    planned = journey.request(user, token)
    return http.request(
        planned.method, url + planned.path, headers=planned.headers, json=planned.body, timeout=10
    )


def wait_for_match(client, shape_path: Path, trace_id: str, timeout: float = 30.0):
    """Poll the backend until the trace matches the shape; return the last result.

    Spans reach the backend in batches, so an early fetch may see half a
    trace: keep fetching until it matches or the time is up, then return the
    last (failing) result so its diff explains what was missing.
    """
    shape = load_shape(shape_path)
    deadline = time.monotonic() + timeout
    result = None
    trace = None
    while True:
        trace = client.get_trace(trace_id)
        if trace is not None:
            result = match(shape, trace)
            if result.ok:
                return result, trace
        if time.monotonic() > deadline:
            return result, trace
        time.sleep(0.25)
