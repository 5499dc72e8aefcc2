"""The measuring helpers on synthetic timings: phases, failures by status, recovery time."""

from __future__ import annotations

from tests.resilience.measure import phase_figures, recovery_seconds
from tracelab.bench.loadgen import STATUS_TIMEOUT, LoadResult


def _result(requests: list[tuple[float, int, float]]) -> LoadResult:
    """(scheduled s, status, latency ms) per request."""
    return LoadResult(
        mode="open",
        target_rate=10.0,
        duration_s=10.0,
        window_s=10.0,
        loadgen_cpu_s=0.1,
        scheduled=len(requests),
        warmup_requests=0,
        journey=[0] * len(requests),
        status=[status for _, status, _ in requests],
        latency_us=[int(ms * 1000) for _, _, ms in requests],
        service_us=[int(ms * 1000) for _, _, ms in requests],
        lag_us=[0] * len(requests),
        offset_us=[int(at * 1e6) for at, _, _ in requests],
    )


# 10 req/s for 10 s: fine, then failing from 3 s to 6 s, then slow until 7.5 s.
TIMINGS = [
    (
        i / 10,
        503 if 3 <= i / 10 < 6 else 200,
        2000.0 if 6 <= i / 10 < 7.5 else 20.0,
    )
    for i in range(100)
]


def test_phase_figures_count_by_status_and_take_percentiles():
    result = _result([*TIMINGS[:30], (3.05, STATUS_TIMEOUT, 10_000.0)])
    before = phase_figures(result, "before", 0.0, 3.0)
    assert (before.requests, before.ok, before.failed) == (30, 30, {})
    assert before.p50_ms == before.p99_ms == 20.0
    during = phase_figures(result, "during", 3.0, 6.0)
    assert during.failed == {"timeout": 1}
    assert during.failed_p99_ms == 10_000.0
    assert during.failed_total == 1


def test_recovery_is_when_the_stack_answers_as_before():
    result = _result(TIMINGS)
    before = phase_figures(result, "before", 0.0, 3.0)
    # Failures end at 6 s, slowness at 7.5 s: recovered 1.5 s after the fault ended.
    assert recovery_seconds(result, before, 6.0, 10.0, slow_ms=500) == 1.5
    # Counted from the end of the slowness, the stack was fine at once.
    assert recovery_seconds(result, before, 7.5, 10.0, slow_ms=500) == 0.0
    # Never recovered within the window.
    stuck = _result([(at, 503 if at >= 3 else 200, 20.0) for at, _, _ in TIMINGS])
    assert recovery_seconds(stuck, before, 6.0, 10.0, slow_ms=500) is None
