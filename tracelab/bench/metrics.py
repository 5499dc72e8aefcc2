"""Per-round figures from raw client timings and the stack's counters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tracelab.bench.loadgen import STATUS_SKIPPED, LoadResult
from tracelab.bench.workload import JOURNEYS

SERVICES = ("frontend", "gateway", "auth", "user", "db")
PIPELINE = ("otel-collector", "jaeger")
DATABASE = ("postgres",)

# Where a round stops being trustworthy (docs/benchmark.md, "Invalid rounds").
MAX_LOADGEN_CORE_FRACTION = 0.70
MIN_ANSWERED_FRACTION = 0.95
MAX_SEND_LAG_P99_MS = 20.0
MIN_STARTED_FRACTION = 0.95
MAX_ERROR_FRACTION = 0.01
# CPU used by processes that are neither the stack nor the load generator
# (other work on a shared machine), and CPU the hypervisor gave other guests.
MAX_FOREIGN_CORE_FRACTION = 0.25
MAX_STEAL_CORE_FRACTION = 0.10


@dataclass(frozen=True)
class LatencySummary:
    """Latency statistics in milliseconds (microsecond resolution)."""

    count: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, micros: Sequence[int] | np.ndarray) -> LatencySummary:
        """Summarise raw microsecond timings (NaN everywhere when there are none)."""
        values = np.asarray(micros, dtype=np.float64) / 1000.0
        if values.size == 0:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan, nan)
        p50, p95, p99 = np.percentile(values, [50, 95, 99])
        return cls(
            int(values.size),
            round(float(values.mean()), 3),
            round(float(p50), 3),
            round(float(p95), 3),
            round(float(p99), 3),
            round(float(values.max()), 3),
        )


@dataclass
class SystemWindow:
    """What the orchestrator measured on the stack during the window."""

    cpu_s: dict[str, float]
    rss_bytes: dict[str, int]
    spans_accepted: float = 0.0
    spans_sent: float = 0.0
    spans_dropped_collector: float = 0.0
    spans_dropped_sdk: int = 0
    failed_exports: int = 0
    machine_busy_s: float = 0.0
    steal_s: float = 0.0


@dataclass
class RoundMetrics:
    """Everything reported for one configuration in one round."""

    config: str
    round: int
    target_rate: float
    window_s: float
    requests: int
    answered: int
    unexpected: int
    throughput_rps: float
    latency: LatencySummary
    service_latency: LatencySummary
    send_lag_p99_ms: float
    by_journey: dict[str, LatencySummary]
    cpu_s: dict[str, float]
    service_cpu_s_per_1k: float
    pipeline_cpu_s_per_1k: float
    postgres_cpu_s_per_1k: float
    rss_mib: dict[str, float]
    spans_per_request: float
    spans_accepted: float
    spans_sent: float
    spans_dropped: float
    failed_exports: int
    loadgen_core_fraction: float
    foreign_core_fraction: float = 0.0
    steal_core_fraction: float = 0.0
    achieved_rate_rps: float = 0.0  # sends started in the window per second
    planned_in_window: int = 0
    started_in_window: int = 0
    invalid_reasons: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True when nothing disqualified the round."""
        return not self.invalid_reasons

    def value(self, metric: str) -> float:
        """A scalar metric by name: ``latency.p99_ms``, ``service_cpu_s_per_1k``..."""
        head, _, tail = metric.partition(".")
        item: Any = getattr(self, head)
        return float(getattr(item, tail) if tail else item)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``valid`` included)."""
        return {**asdict(self), "valid": self.valid}


def _per_1k(cpu: Mapping[str, float], names: Sequence[str], requests: int) -> float:
    seconds = sum(cpu.get(name, 0.0) for name in names)
    return round(seconds / requests * 1000.0, 4) if requests else float("nan")


def _fraction(seconds: float, window_s: float) -> float:
    return round(seconds / window_s, 4) if window_s else 0.0


def invalid_reasons(m: RoundMetrics) -> list[str]:
    """Why a round cannot be trusted (empty when it can)."""
    reasons = []
    if m.loadgen_core_fraction > MAX_LOADGEN_CORE_FRACTION:
        reasons.append(
            f"load generator used {m.loadgen_core_fraction:.0%} of a core "
            f"(limit {MAX_LOADGEN_CORE_FRACTION:.0%})"
        )
    if m.requests == 0 or m.answered < MIN_ANSWERED_FRACTION * m.requests:
        reasons.append(f"missed the target rate: {m.answered} of {m.requests} requests answered")
    if m.planned_in_window and m.started_in_window < MIN_STARTED_FRACTION * m.planned_in_window:
        reasons.append(
            f"missed the target rate: {m.started_in_window} of {m.planned_in_window} planned "
            f"sends started in the window ({m.achieved_rate_rps:.1f} of {m.target_rate:.1f}/s)"
        )
    if m.send_lag_p99_ms > MAX_SEND_LAG_P99_MS:
        reasons.append(
            f"missed the target rate: sends lagged the schedule by {m.send_lag_p99_ms:.1f} ms "
            f"at p99 (limit {MAX_SEND_LAG_P99_MS:.0f} ms)"
        )
    if m.requests and m.unexpected > MAX_ERROR_FRACTION * m.requests:
        reasons.append(f"{m.unexpected} of {m.requests} answers had an unexpected status")
    if m.foreign_core_fraction > MAX_FOREIGN_CORE_FRACTION:
        reasons.append(
            f"other processes on the machine used {m.foreign_core_fraction:.0%} of a core "
            f"(limit {MAX_FOREIGN_CORE_FRACTION:.0%})"
        )
    if m.steal_core_fraction > MAX_STEAL_CORE_FRACTION:
        reasons.append(
            f"the hypervisor took {m.steal_core_fraction:.0%} of a core "
            f"(limit {MAX_STEAL_CORE_FRACTION:.0%})"
        )
    return reasons


def _foreign_seconds(load: LoadResult, system: SystemWindow) -> float:
    """Machine CPU not used by the stack or the load generator during the window."""
    if system.machine_busy_s <= 0:
        return 0.0
    ours = sum(system.cpu_s.values()) + load.loadgen_cpu_s
    return max(0.0, system.machine_busy_s - ours)


def _unexpected(load: LoadResult, status: np.ndarray, journey: np.ndarray) -> int:
    """Answers the driver judged wrong (results from before ``failed``: not the expected status)."""
    if len(load.failed) == status.size:
        return int(np.asarray(load.failed, dtype=np.int64).sum())
    expected = np.array([JOURNEYS[j].expected_status for j in journey], dtype=np.int64)
    return int((status != expected).sum())


def round_metrics(
    config: str, round_index: int, load: LoadResult, system: SystemWindow
) -> RoundMetrics:
    """Combine the generator's raw timings with the stack's window measurements."""
    status = np.asarray(load.status, dtype=np.int64)
    journey = np.asarray(load.journey, dtype=np.int64)
    latency = np.asarray(load.latency_us, dtype=np.int64)
    sent = status != STATUS_SKIPPED
    answered = status > 0
    requests = int(status.size)
    by_journey = {
        name: LatencySummary.of(latency[answered & (journey == index)])
        for index, name in enumerate(load.journeys)
    }
    lag = np.asarray(load.lag_us, dtype=np.float64)[sent]
    metrics = RoundMetrics(
        config=config,
        round=round_index,
        target_rate=load.target_rate,
        window_s=round(load.window_s, 3),
        requests=requests,
        answered=int(answered.sum()),
        unexpected=_unexpected(load, status, journey),
        throughput_rps=round(float(answered.sum()) / load.duration_s, 3),
        latency=LatencySummary.of(latency[answered]),
        service_latency=LatencySummary.of(np.asarray(load.service_us)[answered]),
        send_lag_p99_ms=round(float(np.percentile(lag, 99)) / 1000.0, 3) if lag.size else 0.0,
        achieved_rate_rps=round(load.started_in_window / load.window_s, 3)
        if load.window_s
        else 0.0,
        by_journey=by_journey,
        cpu_s={name: round(seconds, 3) for name, seconds in system.cpu_s.items()},
        service_cpu_s_per_1k=_per_1k(system.cpu_s, SERVICES, requests),
        pipeline_cpu_s_per_1k=_per_1k(system.cpu_s, PIPELINE, requests),
        postgres_cpu_s_per_1k=_per_1k(system.cpu_s, DATABASE, requests),
        rss_mib={name: round(b / 2**20, 1) for name, b in system.rss_bytes.items()},
        spans_per_request=round(system.spans_accepted / requests, 3) if requests else 0.0,
        spans_accepted=system.spans_accepted,
        spans_sent=system.spans_sent,
        spans_dropped=system.spans_dropped_collector + system.spans_dropped_sdk,
        failed_exports=system.failed_exports,
        loadgen_core_fraction=_fraction(load.loadgen_cpu_s, load.window_s),
        foreign_core_fraction=_fraction(_foreign_seconds(load, system), load.window_s),
        steal_core_fraction=_fraction(system.steal_s, load.window_s),
        planned_in_window=load.planned_in_window,
        started_in_window=load.started_in_window,
    )
    metrics.invalid_reasons = invalid_reasons(metrics)
    return metrics


def metrics_from_dict(data: Mapping[str, Any]) -> RoundMetrics:
    """Rebuild a :class:`RoundMetrics` from :meth:`RoundMetrics.to_dict` output."""
    fields = dict(data)
    fields.pop("valid", None)
    fields["latency"] = LatencySummary(**fields["latency"])
    fields["service_latency"] = LatencySummary(**fields["service_latency"])
    fields["by_journey"] = {k: LatencySummary(**v) for k, v in fields["by_journey"].items()}
    return RoundMetrics(**fields)
