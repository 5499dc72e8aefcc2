"""The three sampling strategies compared, as environment for services and collector."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

TAIL_PROCESSORS = "[memory_limiter, tail_sampling, batch]"


@dataclass(frozen=True)
class Strategy:
    """Where the decision is made and the variables that select it."""

    name: str
    description: str
    service_env: Mapping[str, str] = field(default_factory=dict)
    collector_env: Mapping[str, str] = field(default_factory=dict)


def strategies(
    head_ratio: float, rate_per_s: float, slow_ms: int, tail_percent: float
) -> list[Strategy]:
    """Head (parent-based ratio), rate limiting (SDK) and tail (collector) sampling."""
    return [
        Strategy(
            "head",
            f"parentbased_traceidratio {head_ratio:g} in every service (decided at the root)",
            {
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": str(head_ratio),
            },
        ),
        Strategy(
            "rate-limit",
            f"parentbased_ratelimiting {rate_per_s:g} traces/s per process (token bucket)",
            {
                "OTEL_TRACES_SAMPLER": "parentbased_ratelimiting",
                "OTEL_TRACES_SAMPLER_ARG": str(rate_per_s),
            },
        ),
        Strategy(
            "tail",
            f"collector tail_sampling: errors, over {slow_ms} ms, {tail_percent:g}% of the rest",
            {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
            {
                "TRACES_PROCESSORS": TAIL_PROCESSORS,
                "TAIL_SLOW_THRESHOLD_MS": str(slow_ms),
                "TAIL_BASELINE_PERCENT": f"{tail_percent:g}",
                "TAIL_DECISION_WAIT": "3s",
            },
        ),
    ]
