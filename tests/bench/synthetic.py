"""Synthetic round metrics and runs for the statistics and report tests."""

from __future__ import annotations

from tracelab.bench.loadgen import LoadResult
from tracelab.bench.metrics import LatencySummary, RoundMetrics
from tracelab.bench.runner import BenchRun


def latency(mean: float, p99: float | None = None) -> LatencySummary:
    """A latency summary around ``mean`` ms."""
    return LatencySummary(100, mean, mean * 0.9, mean * 1.5, p99 or mean * 2, mean * 3)


def round_of(
    config: str,
    index: int,
    *,
    cpu: float,
    mean_ms: float,
    p99_ms: float | None = None,
    spans: float = 0.0,
    invalid: list[str] | None = None,
) -> RoundMetrics:
    """One round with the given CPU (s/1k req), mean latency and spans per request."""
    return RoundMetrics(
        config=config,
        round=index,
        target_rate=50.0,
        window_s=10.0,
        requests=500,
        answered=500,
        unexpected=0,
        throughput_rps=50.0,
        latency=latency(mean_ms, p99_ms),
        service_latency=latency(mean_ms * 0.95),
        send_lag_p99_ms=0.4,
        by_journey={"profile": latency(mean_ms)},
        cpu_s={"frontend": cpu * 0.2, "db": cpu * 0.3},
        service_cpu_s_per_1k=cpu,
        pipeline_cpu_s_per_1k=spans * 0.01,
        postgres_cpu_s_per_1k=0.3,
        rss_mib={"frontend": 60.0, "db": 55.0},
        spans_per_request=spans,
        spans_accepted=spans * 500,
        spans_sent=spans * 500,
        spans_dropped=0.0,
        failed_exports=0,
        loadgen_core_fraction=0.05,
        invalid_reasons=list(invalid or []),
    )


def load_result(n: int = 20, base_us: int = 5000) -> LoadResult:
    """A generator result of ``n`` answered profile requests."""
    return LoadResult(
        mode="open",
        target_rate=50.0,
        duration_s=10.0,
        window_s=10.0,
        loadgen_cpu_s=0.5,
        scheduled=n,
        warmup_requests=0,
        journey=[0] * n,
        status=[200] * n,
        latency_us=[base_us + 100 * i for i in range(n)],
        service_us=[base_us + 90 * i for i in range(n)],
        lag_us=[10] * n,
    )


def synthetic_run(rounds: int = 5) -> BenchRun:
    """Three configurations over ``rounds`` rounds with known overheads.

    ``ratio-1pct`` adds exactly 1% CPU and 1% mean latency in every round
    (zero variance), ``ratio-100pct`` adds 20% +- 2% CPU, 10% mean latency
    and 3 ms at p99.
    """
    run = BenchRun(
        settings={
            "label": "synthetic",
            "rounds": rounds,
            "duration_s": 10.0,
            "warmup_s": 2.0,
            "load_fraction": 0.5,
            "extra_env": {},
        },
        machine={
            "cpu_model": "test CPU",
            "logical_cpus": 2,
            "memory_gib": 4.0,
            "os": "Linux",
            "python": "3.11",
            "opentelemetry_sdk": "1.45.1",
            "load_average_at_start": [0.1, 0.1, 0.1],
            "load_average_at_end": [0.2, 0.1, 0.1],
        },
        configs=[
            {"name": "off", "description": "off", "env": {"OTEL_SDK_DISABLED": "true"}},
            {"name": "ratio-1pct", "description": "1%", "env": {}},
            {"name": "ratio-100pct", "description": "100%", "env": {}},
        ],
        probes=[],
        capacity_rps=100.0,
        target_rate=50.0,
        started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:10:00+00:00",
        complete=True,
    )
    for r in range(1, rounds + 1):
        base_cpu = 8.0 + 0.1 * r  # drift over rounds hits every configuration alike
        wiggle = 2.0 if r % 2 else -2.0
        run.rounds += [
            round_of("off", r, cpu=base_cpu, mean_ms=10.0, p99_ms=30.0),
            round_of("ratio-1pct", r, cpu=base_cpu * 1.01, mean_ms=10.1, p99_ms=30.2, spans=0.12),
            round_of(
                "ratio-100pct",
                r,
                cpu=base_cpu * (1.2 + wiggle / 100),
                mean_ms=11.0,
                p99_ms=33.0,
                spans=12.0,
            ),
        ]
        for config in ("off", "ratio-1pct", "ratio-100pct"):
            run.raw[f"{config}/{r}"] = load_result()
    return run
