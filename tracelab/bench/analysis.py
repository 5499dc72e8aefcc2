"""From per-round metrics to overheads, target verdicts and per-span cost."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tracelab.bench.configs import BASELINE
from tracelab.bench.metrics import RoundMetrics
from tracelab.bench.stats import Interval, Overhead, overhead, t_interval

# The metrics every configuration is compared on, with their report labels.
REPORTED_METRICS: dict[str, str] = {
    "service_cpu_s_per_1k": "CPU s / 1k req (services)",
    "latency.mean_ms": "mean latency ms",
    "latency.p50_ms": "p50 latency ms",
    "latency.p95_ms": "p95 latency ms",
    "latency.p99_ms": "p99 latency ms",
    "pipeline_cpu_s_per_1k": "CPU s / 1k req (collector + Jaeger)",
}


@dataclass(frozen=True)
class Target:
    """A target of issue 4: ``config``'s overhead on ``metric`` at most ``limit``."""

    config: str
    metric: str
    relative: bool  # limit in percent of tracing-off; else in the metric's unit
    limit: float
    label: str


TARGETS: tuple[Target, ...] = (
    Target("ratio-1pct", "service_cpu_s_per_1k", True, 2.0, "1%: CPU per request ≤ +2%"),
    Target("ratio-1pct", "latency.mean_ms", True, 2.0, "1%: mean latency ≤ +2%"),
    Target("ratio-100pct", "service_cpu_s_per_1k", True, 10.0, "100%: CPU per request ≤ +10%"),
    Target("ratio-100pct", "latency.mean_ms", True, 5.0, "100%: mean latency ≤ +5%"),
    Target("ratio-100pct", "latency.p99_ms", False, 2.0, "100%: p99 latency ≤ +2 ms"),
)
PER_SPAN_TARGET_US = 30.0


@dataclass(frozen=True)
class Verdict:
    """How a measured overhead compares with its target."""

    target: Target
    interval: Interval
    status: str  # met | within-mean | missed | no-data
    precise: bool  # CI half-width at most a third of the target

    @property
    def precision_note(self) -> str:
        """Whether the CI is narrow enough to decide."""
        if self.interval.half_width is None:
            return "no CI (fewer than two valid pairs)"
        limit = self.target.limit / 3
        if self.precise:
            return f"CI ±{self.interval.half_width:.2f} ≤ {limit:.2f}"
        return f"CI ±{self.interval.half_width:.2f} wider than {limit:.2f}: run longer"


def paired_series(
    rounds: Sequence[RoundMetrics], config: str, metric: str, baseline: str = BASELINE
) -> tuple[list[float], list[float]]:
    """Values of ``metric`` for ``config`` and ``baseline`` in rounds where both are valid."""
    by_round: dict[int, dict[str, RoundMetrics]] = {}
    for m in rounds:
        by_round.setdefault(m.round, {})[m.config] = m
    treated, base = [], []
    for index in sorted(by_round):
        pair = by_round[index]
        if config in pair and baseline in pair and pair[config].valid and pair[baseline].valid:
            treated.append(pair[config].value(metric))
            base.append(pair[baseline].value(metric))
    return treated, base


def overheads(
    rounds: Sequence[RoundMetrics], configs: Sequence[str], baseline: str = BASELINE
) -> dict[str, dict[str, Overhead]]:
    """For each non-baseline configuration, its paired overhead on every reported metric."""
    result: dict[str, dict[str, Overhead]] = {}
    for config in configs:
        if config == baseline:
            continue
        result[config] = {
            metric: overhead(metric, *paired_series(rounds, config, metric, baseline))
            for metric in REPORTED_METRICS
        }
    return result


def verdicts(table: dict[str, dict[str, Overhead]]) -> list[Verdict]:
    """Each target of :data:`TARGETS` whose configuration was measured."""
    found = []
    for target in TARGETS:
        if target.config not in table:
            continue
        result = table[target.config][target.metric]
        interval = result.relative if target.relative else result.absolute
        found.append(_verdict(target, interval))
    return found


def _verdict(target: Target, interval: Interval) -> Verdict:
    if interval.n == 0 or math.isnan(interval.mean):
        return Verdict(target, interval, "no-data", False)
    high = interval.high
    if interval.mean > target.limit:
        status = "missed"
    elif high is not None and high <= target.limit:
        status = "met"
    else:
        status = "within-mean"
    precise = interval.half_width is not None and interval.half_width <= target.limit / 3
    return Verdict(target, interval, status, precise)


def cost_per_span(rounds: Sequence[RoundMetrics], config: str, reference: str) -> Interval | None:
    """Service CPU µs per exported span of ``config``, over ``reference``, paired by round.

    ``(cpu/req(config) - cpu/req(reference)) / (spans/req(config) - spans/req(reference))``
    per round. None when ``config`` exports (almost) no spans.
    """
    cpu, cpu_ref = paired_series(rounds, config, "service_cpu_s_per_1k", reference)
    spans, spans_ref = paired_series(rounds, config, "spans_per_request", reference)
    values = []
    for c, c_ref, s, s_ref in zip(cpu, cpu_ref, spans, spans_ref, strict=True):
        extra_spans = s - s_ref
        if extra_spans < 1.0:
            return None
        values.append((c - c_ref) * 1000.0 / extra_spans)  # s/1k req = ms/req -> µs/req
    return t_interval(values) if values else None
