import math

import numpy as np
import pytest

from tests.bench.synthetic import load_result
from tracelab.bench.loadgen import STATUS_SKIPPED, STATUS_TIMEOUT
from tracelab.bench.metrics import LatencySummary, SystemWindow, metrics_from_dict, round_metrics


def window(cpu: float = 4.0) -> SystemWindow:
    return SystemWindow(
        cpu_s={"frontend": cpu / 2, "db": cpu / 2, "otel-collector": 0.2, "postgres": 0.4},
        rss_bytes={"frontend": 64 * 2**20, "db": 32 * 2**20},
        spans_accepted=1100.0,
        spans_sent=1100.0,
        spans_dropped_collector=2.0,
        spans_dropped_sdk=3,
        failed_exports=1,
    )


def test_latency_summary_keeps_microsecond_resolution():
    summary = LatencySummary.of([1001, 1002, 1003, 1004, 10_000])
    assert summary.count == 5
    assert summary.mean_ms == pytest.approx(2.802)
    assert summary.p50_ms == pytest.approx(1.003)
    assert summary.p50_ms <= summary.p95_ms <= summary.p99_ms <= summary.max_ms == 10.0
    empty = LatencySummary.of([])
    assert empty.count == 0 and math.isnan(empty.mean_ms)


def test_round_metrics_from_raw_timings_and_window():
    load = load_result(n=100)
    m = round_metrics("ratio-100pct", 2, load, window(cpu=4.0))
    assert m.requests == 100 and m.answered == 100 and m.unexpected == 0
    assert m.throughput_rps == pytest.approx(10.0)  # 100 answers in a 10 s window
    # 4 CPU-seconds of the five services for 100 requests: 40 s per 1,000.
    assert m.service_cpu_s_per_1k == pytest.approx(40.0)
    assert m.pipeline_cpu_s_per_1k == pytest.approx(2.0)
    assert m.postgres_cpu_s_per_1k == pytest.approx(4.0)
    assert m.spans_per_request == pytest.approx(11.0)
    assert m.spans_dropped == 5.0 and m.failed_exports == 1
    assert m.rss_mib == {"frontend": 64.0, "db": 32.0}
    assert m.latency.p50_ms == pytest.approx(np.percentile(load.latency_us, 50) / 1000, abs=1e-3)
    assert m.by_journey["profile"].count == 100 and m.by_journey["login"].count == 0
    assert m.loadgen_core_fraction == pytest.approx(0.05)
    assert m.valid


def test_unexpected_statuses_skips_and_timeouts_make_a_round_invalid():
    load = load_result(n=100)
    load.journey[0] = 3  # bad_token expects 401 ...
    load.status[0] = 200  # ... got 200: unexpected
    for i in range(1, 7):
        load.status[i] = STATUS_TIMEOUT
    load.status[7] = STATUS_SKIPPED
    m = round_metrics("off", 1, load, window())
    assert m.unexpected == 8
    assert m.answered == 93
    assert not m.valid
    assert any("missed the target rate" in r for r in m.invalid_reasons)
    assert any("unexpected status" in r for r in m.invalid_reasons)


def test_a_busy_load_generator_or_late_sends_invalidate_the_round():
    load = load_result()
    load.loadgen_cpu_s = 8.0  # 80% of a core over 10 s
    load.lag_us = [50_000] * len(load.lag_us)
    m = round_metrics("off", 1, load, window())
    assert len(m.invalid_reasons) == 2
    assert "80% of a core" in m.invalid_reasons[0]
    assert "lagged the schedule by 50.0 ms" in m.invalid_reasons[1]


def test_metrics_round_trip_through_a_dict():
    m = round_metrics("off", 3, load_result(), window())
    again = metrics_from_dict(m.to_dict())
    assert again == m
    assert m.to_dict()["valid"] is True
    assert again.value("latency.p99_ms") == m.latency.p99_ms
    assert again.value("service_cpu_s_per_1k") == m.service_cpu_s_per_1k


def test_other_work_on_the_machine_invalidates_the_round():
    load = load_result()  # 0.5 s of load generator CPU over 10 s
    busy = window(cpu=4.0)  # the stack: 4.0 + 0.2 + 0.4 = 4.6 s
    busy.machine_busy_s = 4.6 + 0.5 + 3.0  # 3 s more: 30% of a core elsewhere
    busy.steal_s = 0.5
    m = round_metrics("off", 1, load, busy)
    assert m.foreign_core_fraction == pytest.approx(0.3)
    assert m.steal_core_fraction == pytest.approx(0.05)
    assert m.invalid_reasons == ["other processes on the machine used 30% of a core (limit 25%)"]
    quiet = window(cpu=4.0)
    quiet.machine_busy_s = 4.6 + 0.5 + 0.2
    quiet.steal_s = 2.0
    m = round_metrics("off", 1, load, quiet)
    assert m.foreign_core_fraction == pytest.approx(0.02)
    assert m.invalid_reasons == ["the hypervisor took 20% of a core (limit 10%)"]
