"""The status table of docs/architecture.md through the real stack, where a fault is real.

A statement PostgreSQL cancels (scenario slow-query, scanning longer than
``DB_STATEMENT_TIMEOUT_MS``) is a 504 at the edge, and a service that stops
answering (the user service paused with SIGSTOP) a 504 once the request's
budget is used up, not a hang. PostgreSQL stopped (503 with ``Retry-After``)
is in tests/resilience/test_postgres_outage.py.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from tracelab.bench.stackenv import component_pids
from tracelab.scenarios.admin import ScenarioAdmin
from tracelab.scenarios.targets import Targets

pytestmark = pytest.mark.e2e

BUDGET_S = 3.0  # REQUEST_BUDGET_SECONDS' default
STATEMENT_TIMEOUT_S = 2.0  # DB_STATEMENT_TIMEOUT_MS' default


@pytest.fixture
def admin(stack) -> Iterator[ScenarioAdmin]:
    targets = Targets.from_urls(stack.urls, log_dir=stack.log_dir, token=stack.admin_token)
    client = ScenarioAdmin(targets.services, targets.token)
    yield client
    client.all_off()
    client.close()


def _timed_get(http, url: str, headers: dict[str, str]):
    started = time.monotonic()
    response = http.get(url, headers=headers, timeout=15)
    return response, time.monotonic() - started


def test_a_cancelled_statement_is_504_at_the_edge(http, frontend_url, login, admin):
    user = login(11)
    admin.switch("slow-query", True, {"scan_ms": 2500})
    response, elapsed = _timed_get(http, f"{frontend_url}/api/dashboard", user.headers)
    assert response.status_code == 504, response.text
    assert response.json()["error"]["code"] == "query_timeout"
    assert STATEMENT_TIMEOUT_S * 0.9 < elapsed < BUDGET_S + 0.5
    admin.switch("slow-query", False)
    assert http.get(f"{frontend_url}/api/dashboard", headers=user.headers, timeout=10).ok


def test_a_service_that_stopped_answering_is_504_within_the_budget(
    http, frontend_url, login, stack
):
    user = login(12)
    pid = component_pids(stack.run_dir)["user"]
    os.kill(pid, signal.SIGSTOP)
    try:
        response, elapsed = _timed_get(
            http, f"{frontend_url}/api/users/{user.user_id}", user.headers
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    assert response.status_code == 504, response.text
    assert response.json()["error"]["code"] == "gateway_timeout"
    assert "user" in response.json()["error"]["message"]
    assert BUDGET_S * 0.9 < elapsed < BUDGET_S + 0.5
    ok = http.get(f"{frontend_url}/api/users/{user.user_id}", headers=user.headers, timeout=10)
    assert ok.status_code == 200
