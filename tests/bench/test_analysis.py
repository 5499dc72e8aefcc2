import pytest

from tests.bench.synthetic import round_of, synthetic_run
from tracelab.bench.analysis import (
    TARGETS,
    cost_per_span,
    overheads,
    paired_series,
    verdicts,
)


def test_overheads_recover_the_synthetic_differences():
    run = synthetic_run()
    table = overheads(run.rounds, ["off", "ratio-1pct", "ratio-100pct"])
    assert set(table) == {"ratio-1pct", "ratio-100pct"}
    one = table["ratio-1pct"]
    assert one["service_cpu_s_per_1k"].relative.mean == pytest.approx(1.0)
    assert one["service_cpu_s_per_1k"].relative.half_width == pytest.approx(0.0, abs=1e-9)
    assert one["latency.mean_ms"].relative.mean == pytest.approx(1.0)
    full = table["ratio-100pct"]
    assert full["service_cpu_s_per_1k"].relative.mean == pytest.approx(20.4, abs=0.01)
    assert full["service_cpu_s_per_1k"].relative.half_width > 0
    assert full["latency.p99_ms"].absolute.mean == pytest.approx(3.0)
    assert full["latency.mean_ms"].relative.n == 5


def test_verdicts_for_each_measured_target():
    run = synthetic_run()
    found = {
        v.target.label: v
        for v in verdicts(overheads(run.rounds, ["off", "ratio-1pct", "ratio-100pct"]))
    }
    assert len(found) == len(TARGETS)
    assert found["1%: CPU per request ≤ +2%"].status == "met"
    assert found["1%: CPU per request ≤ +2%"].precise
    assert found["100%: CPU per request ≤ +10%"].status == "missed"
    assert found["100%: mean latency ≤ +5%"].status == "missed"
    assert found["100%: p99 latency ≤ +2 ms"].status == "missed"
    assert "CI" in found["100%: CPU per request ≤ +10%"].precision_note


def test_a_mean_within_target_with_a_wide_interval_is_not_called_met():
    rounds = []
    for r, extra in enumerate([0.0, 3.5, 0.0, 3.5], start=1):
        rounds += [
            round_of("off", r, cpu=10.0, mean_ms=10.0),
            round_of("ratio-1pct", r, cpu=10.0 * (1 + extra / 100), mean_ms=10.0),
        ]
    [cpu] = [
        v for v in verdicts(overheads(rounds, ["off", "ratio-1pct"])) if "CPU" in v.target.label
    ]
    assert cpu.interval.mean == pytest.approx(1.75)
    assert cpu.status == "within-mean"
    assert not cpu.precise
    assert "run longer" in cpu.precision_note


def test_invalid_rounds_are_left_out_of_the_pairs():
    rounds = [
        round_of("off", 1, cpu=10.0, mean_ms=10.0),
        round_of("ratio-100pct", 1, cpu=12.0, mean_ms=11.0),
        round_of("off", 2, cpu=10.0, mean_ms=10.0, invalid=["load generator used 90% of a core"]),
        round_of("ratio-100pct", 2, cpu=50.0, mean_ms=99.0),
        round_of("off", 3, cpu=10.0, mean_ms=10.0),
        round_of("ratio-100pct", 3, cpu=12.0, mean_ms=11.0),
    ]
    treated, base = paired_series(rounds, "ratio-100pct", "service_cpu_s_per_1k")
    assert treated == [12.0, 12.0] and base == [10.0, 10.0]


def test_cost_per_span_divides_extra_cpu_by_extra_spans():
    rounds = []
    for r in (1, 2, 3):
        rounds += [
            round_of("off", r, cpu=8.0, mean_ms=10.0),
            # 1.2 ms more CPU per request for 12 spans: 100 µs per span.
            round_of("ratio-100pct", r, cpu=9.2, mean_ms=11.0, spans=12.0),
            round_of("ratio-1pct", r, cpu=8.1, mean_ms=10.0, spans=0.12),
        ]
    per_span = cost_per_span(rounds, "ratio-100pct", "off")
    assert per_span is not None
    assert per_span.mean == pytest.approx(100.0)
    assert per_span.half_width == pytest.approx(0.0, abs=1e-9)
    assert cost_per_span(rounds, "ratio-1pct", "off") is None
