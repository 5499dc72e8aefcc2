"""Three times the stack's capacity for 10 s: the accepted stay fast, the rest fail fast.

Capacity is measured first (closed loop, as many loops as the frontend has
threads), on the machine as it is at that moment: the load is then half of
it, three times it for 10 s, and half again.
"""

from __future__ import annotations

import pytest

from tests.resilience.measure import (
    Fault,
    LoadPlan,
    closed_loop_capacity,
    run_with_fault,
    write_figures,
)

pytestmark = pytest.mark.resilience

BUDGET_MS = 3000  # REQUEST_BUDGET_SECONDS, the frontend's default
FRONTEND_THREADS = 8  # WEB_THREADS' default


def test_three_times_capacity_for_10_s(frontend_url, accounts, results_dir):
    capacity = closed_loop_capacity(frontend_url, accounts, concurrency=FRONTEND_THREADS, seconds=4)
    plan = LoadPlan(
        rate=capacity / 2, fault_rate=capacity * 3, before_s=5, fault_s=10, after_s=8, timeout_s=30
    )
    figures = run_with_fault(frontend_url, accounts, plan, Fault("overload-3x"), slow_ms=500)
    figures.notes["capacity_rps"] = round(capacity, 1)
    write_figures(figures, results_dir, "overload-3x")
    before, during, after = (figures.phase(name) for name in ("before", "during", "after"))

    # Shed, never hung: every failure is a 503, none a timeout or another 5xx.
    assert set(during.failed) <= {"503"}, during.failed
    # A third at least: the capacity probe itself runs on a shared machine.
    assert during.failed_total > during.requests / 3, "3x capacity, yet hardly anything was shed"
    # Shed fast: measured from each request's actual send. At three times a quiet
    # machine's capacity the generator, on the same two cores, itself sends late
    # (measured: p99 112 ms late at 443 req/s), which the figures from the scheduled
    # send include; the stack's answer is what is judged here.
    served_p50, served_p99 = during.failed_served_p50_ms, during.failed_served_p99_ms
    assert served_p50 < 100 and served_p99 < 1000, ("shedding was not fast", during)
    # The accepted ones answer within the budget, and there are enough of them.
    assert during.ok_p99_ms < BUDGET_MS
    assert during.ok >= 0.25 * capacity * plan.fault_s, "overload starved the accepted requests"
    # Recovery is immediate: the stack answers as before within a second.
    assert figures.recovery_s is not None and figures.recovery_s <= 1.0, figures.recovery_s
    for phase in (before, after):
        assert set(phase.failed) <= {"503"}, phase.failed
        assert phase.ok_p99_ms < BUDGET_MS
