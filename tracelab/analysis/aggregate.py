"""The critical path over many traces: which operation the end-to-end latency waited for.

For each trace, every (service, span name) gets the time it spent on that
trace's critical path (:mod:`tracelab.analysis.critical_path`; zero when it
was not on it). Over the traces, each operation then has a median and a 99th
percentile contribution, a mean and its share of the mean end-to-end
latency. Two such profiles (say a scenario on, then off) compare operation
by operation: "slow-query adds 310 ms of critical path on db SELECT".

Percentiles are the "inclusive" quantiles of :mod:`statistics` (the same
definition as numpy's default linear interpolation).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tracelab.analysis.critical_path import critical_path
from tracelab.shapes.model import Trace

Operation = tuple[str, str]


def percentile(values: Sequence[float], q: int) -> float:
    """The ``q``-th percentile (1-99) of ``values``, interpolated; 0 for no values."""
    if not 1 <= q <= 99:
        raise ValueError(f"percentile {q} is outside 1..99")
    if not values:
        return 0.0
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def contributions(trace: Trace) -> dict[Operation, int]:
    """Nanoseconds on the critical path per (service, span name) in one trace."""
    names = {span.span_id: (span.service, span.name) for span in trace}
    totals: dict[Operation, int] = {}
    for segment in critical_path(trace):
        operation = names[segment.span_id]
        totals[operation] = totals.get(operation, 0) + segment.duration_ns
    return totals


@dataclass(frozen=True)
class OperationShare:
    """One operation's part of the critical path over the traces of a profile (ms)."""

    service: str
    name: str
    p50_ms: float
    p99_ms: float
    mean_ms: float
    share: float
    on_path_in: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "service": self.service,
            "name": self.name,
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "mean_ms": round(self.mean_ms, 3),
            "share": round(self.share, 4),
            "on_path_in": self.on_path_in,
        }


@dataclass(frozen=True)
class Profile:
    """The critical-path profile of a set of traces."""

    traces: int
    latency_p50_ms: float
    latency_p99_ms: float
    latency_mean_ms: float
    operations: tuple[OperationShare, ...]

    def operation(self, service: str, name: str) -> OperationShare | None:
        """The share of one operation, if it was ever on the path."""
        return next((o for o in self.operations if (o.service, o.name) == (service, name)), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, biggest mean contribution first."""
        return {
            "traces": self.traces,
            "latency_p50_ms": round(self.latency_p50_ms, 3),
            "latency_p99_ms": round(self.latency_p99_ms, 3),
            "latency_mean_ms": round(self.latency_mean_ms, 3),
            "operations": [operation.to_dict() for operation in self.operations],
        }


def profile(traces: Iterable[Trace]) -> Profile:
    """The critical-path profile of ``traces`` (see the module docstring)."""
    per_trace = [(trace.duration_ns / 1e6, contributions(trace)) for trace in traces if len(trace)]
    if not per_trace:
        return Profile(0, 0.0, 0.0, 0.0, ())
    latencies = [latency for latency, _ in per_trace]
    mean_latency = statistics.fmean(latencies)
    operations = sorted({op for _, parts in per_trace for op in parts})
    shares = []
    for service, name in operations:
        values = [parts.get((service, name), 0) / 1e6 for _, parts in per_trace]
        mean = statistics.fmean(values)
        shares.append(
            OperationShare(
                service,
                name,
                percentile(values, 50),
                percentile(values, 99),
                mean,
                mean / mean_latency if mean_latency else 0.0,
                sum(1 for _, parts in per_trace if (service, name) in parts),
            )
        )
    shares.sort(key=lambda s: -s.mean_ms)
    return Profile(
        len(per_trace),
        percentile(latencies, 50),
        percentile(latencies, 99),
        mean_latency,
        tuple(shares),
    )


def compare_profiles(before: Profile, after: Profile) -> list[dict[str, Any]]:
    """Per operation, how its critical-path contribution changed (after minus before)."""
    operations = {(o.service, o.name) for o in (*before.operations, *after.operations)}
    rows = []
    for service, name in operations:
        b, a = before.operation(service, name), after.operation(service, name)
        rows.append(
            {
                "service": service,
                "name": name,
                "before_p50_ms": round(b.p50_ms, 3) if b else 0.0,
                "after_p50_ms": round(a.p50_ms, 3) if a else 0.0,
                "delta_p50_ms": round((a.p50_ms if a else 0) - (b.p50_ms if b else 0), 3),
                "before_p99_ms": round(b.p99_ms, 3) if b else 0.0,
                "after_p99_ms": round(a.p99_ms, 3) if a else 0.0,
                "delta_p99_ms": round((a.p99_ms if a else 0) - (b.p99_ms if b else 0), 3),
                "delta_mean_ms": round((a.mean_ms if a else 0) - (b.mean_ms if b else 0), 3),
            }
        )
    rows.sort(key=lambda row: -abs(row["delta_mean_ms"]))
    return rows
