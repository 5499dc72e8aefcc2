"""PostgreSQL stopped for 10 s under 40 requests/s: fast 503s during, served again at once."""

from __future__ import annotations

import time

import pytest
import requests

from tests.resilience.measure import Fault, LoadPlan, run_with_fault, write_figures

pytestmark = pytest.mark.resilience

RATE = 40.0  # requests/s, as measured in tracelab issue 10
POOL_TIMEOUT_MS = 2000  # DB_POOL_TIMEOUT_SECONDS' default
BUDGET_MS = 3000


def test_postgres_stopped_for_10_s(frontend_url, accounts, results_dir, postgres_outage):
    outage = postgres_outage()
    user_id, token = accounts[0]
    seen: dict[str, requests.Response] = {}

    def stop_and_ask() -> None:
        outage.start()
        time.sleep(0.5)
        seen["answer"] = requests.get(
            f"{frontend_url}/api/users/{user_id}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )

    plan = LoadPlan(rate=RATE, before_s=5, fault_s=10, after_s=8, timeout_s=30)
    figures = run_with_fault(
        frontend_url, accounts, plan, Fault(outage.name, stop_and_ask, outage.stop), slow_ms=500
    )
    write_figures(figures, results_dir, "postgres-stopped-10s")
    before, during, after = (figures.phase(name) for name in ("before", "during", "after"))

    # What an internet caller gets: 503 naming the database, with Retry-After.
    answer = seen["answer"]
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert answer.json()["error"]["code"] == "database_unavailable"
    # Failing fast: all 503, none slower than the pool timeout, almost all at once.
    assert set(during.failed) == {"503"}, during.failed
    assert during.failed_total >= 0.9 * during.requests
    assert during.max_ms < POOL_TIMEOUT_MS + 500
    assert during.failed_p50_ms < 100
    # Served again within a second of PostgreSQL accepting connections.
    assert figures.recovery_s is not None and figures.recovery_s <= 1.0, figures.recovery_s
    for phase in (before, after):
        assert set(phase.failed) <= {"503"}, phase.failed
        assert phase.ok_p99_ms < BUDGET_MS
