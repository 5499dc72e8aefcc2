"""The lab's samplers, and what probability a sampler configuration samples with.

Select them with the standard variables, through the entry points this
package declares (``opentelemetry_traces_sampler``)::

    OTEL_TRACES_SAMPLER=parentbased_ratelimiting OTEL_TRACES_SAMPLER_ARG=5
    OTEL_TRACES_SAMPLER=parentbased_probability OTEL_TRACES_SAMPLER_ARG=0.1

``parentbased_ratelimiting`` limits root spans only and follows the
caller's decision otherwise (what a service behind an edge wants);
``ratelimiting`` applies the limit to every span it is asked about.
``parentbased_probability`` samples a share of new traces and records that
share in the W3C ``tracestate`` (``ot=th:``), so counts can be corrected.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind, TraceState, get_current_span
from opentelemetry.util.types import Attributes

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "opentelemetry_traces_sampler"
DEFAULT_TRACES_PER_SECOND = 10.0


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; thread-safe."""

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate < 0:
            raise ValueError(f"rate must not be negative, got {rate}")
        self.rate = rate
        self.burst = max(1.0, rate) if burst is None else burst
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Take one token if there is one."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class RateLimitingSampler(Sampler):
    """Sample at most ``traces_per_second`` traces per second (per process)."""

    def __init__(
        self, traces_per_second: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.traces_per_second = traces_per_second
        self._bucket = TokenBucket(traces_per_second, clock=clock)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: object = None,
    ) -> SamplingResult:
        """RECORD_AND_SAMPLE while the bucket has a token, else DROP."""
        decision = Decision.RECORD_AND_SAMPLE if self._bucket.take() else Decision.DROP
        parent_state = get_current_span(parent_context).get_span_context().trace_state
        return SamplingResult(decision, None if decision is Decision.DROP else {}, parent_state)

    def get_description(self) -> str:
        """``RateLimitingSampler{N/s}``."""
        return f"RateLimitingSampler{{{self.traces_per_second:g}/s}}"


class ParentBasedRateLimiting(ParentBased):
    """Rate-limited root spans; children follow their parent's decision."""

    def __init__(self, traces_per_second: float) -> None:
        super().__init__(root=RateLimitingSampler(traces_per_second))


def _rate(argument: str) -> float:
    try:
        rate = float(argument) if argument.strip() else DEFAULT_TRACES_PER_SECOND
    except ValueError:
        log.warning("OTEL_TRACES_SAMPLER_ARG %r is not a number: using %g/s", argument, 10.0)
        return DEFAULT_TRACES_PER_SECOND
    return max(0.0, rate)


def rate_limiting(argument: str) -> Sampler:
    """Entry point ``ratelimiting``: ``OTEL_TRACES_SAMPLER_ARG`` traces per second."""
    return RateLimitingSampler(_rate(argument))


def parentbased_rate_limiting(argument: str) -> Sampler:
    """Entry point ``parentbased_ratelimiting``: rate-limited roots, parent-based children."""
    return ParentBasedRateLimiting(_rate(argument))


def sampler_from_entry_point(environ: dict[str, str] | None = None) -> Sampler | None:
    """The sampler ``OTEL_TRACES_SAMPLER`` names when an entry point provides it, else None.

    The SDK's own names (``parentbased_traceidratio``...) are left to the SDK:
    ``TracerProvider(sampler=None)`` reads them itself but knows no entry points.
    """
    env = os.environ if environ is None else environ
    name = env.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if not name:
        return None
    for entry_point in entry_points(group=ENTRY_POINT_GROUP, name=name):
        if entry_point.value.startswith("opentelemetry."):
            return None  # the SDK's own samplers register here too
        factory = entry_point.load()
        return factory(env.get("OTEL_TRACES_SAMPLER_ARG", ""))
    return None


def _ratio(argument: str) -> float:
    try:
        ratio = float(argument) if argument.strip() else 1.0
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        log.warning(
            "OTEL_TRACES_SAMPLER_ARG=%r is not a ratio in 0..1: sampling everything", argument
        )
        return 1.0
    return ratio


def parentbased_probability(argument: str) -> Sampler:
    """Entry point ``parentbased_probability``: ``OTEL_TRACES_SAMPLER_ARG`` of the new traces.

    Like the SDK's ``parentbased_traceidratio``, but built from the SDK's
    consistent-probability samplers: a sampled span records its sampling
    threshold in the W3C ``tracestate`` (``ot=th:...``), and the span and all
    its children carry it, so whoever counts sampled spans can weight each by
    its probability (tracelab's service map does). Children follow their
    parent's decision.
    """
    # The SDK ships these as experimental (a private module): pinned SDK, tested here.
    from opentelemetry.sdk.trace._sampling_experimental import (
        composable_parent_threshold,
        composable_traceid_ratio_based,
        composite_sampler,
    )

    root = composable_traceid_ratio_based(_ratio(argument))
    return _SdkCompatible(composite_sampler(composable_parent_threshold(root)))


class _SdkCompatible(Sampler):
    """Adapt the SDK's experimental composable samplers to the SDK's own tracer.

    Two mismatches, both fixed here: the tracer calls ``should_sample``
    without the parent's trace state, which these samplers read the parent's
    threshold from (children would lose ``ot=th``); and the tracer takes the
    result's attributes as the span's whole attribute set while these
    samplers return only the ones they add (every attribute given at span
    start, ``url.full`` and ``server.address`` among them, would be lost).
    """

    def __init__(self, delegate: Sampler) -> None:
        self._delegate = delegate

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if trace_state is None:
            parent = get_current_span(parent_context).get_span_context()
            if parent.is_valid:
                trace_state = parent.trace_state
        result = self._delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        if result.decision == Decision.DROP:
            return result
        merged = {**(attributes or {}), **(result.attributes or {})}
        return SamplingResult(result.decision, merged, result.trace_state)

    def get_description(self) -> str:
        return self._delegate.get_description()


# Samplers whose OTEL_TRACES_SAMPLER_ARG is the probability of a new trace.
RATIO_SAMPLERS = ("traceidratio", "parentbased_traceidratio", "parentbased_probability")
PROBABILITY_ATTRIBUTE = "tracelab.sampling.probability"


def configured_probability(sampler: str | None, argument: str | None) -> float | None:
    """The probability a new trace is sampled with under ``OTEL_TRACES_SAMPLER``/``_ARG``.

    None where no fixed probability exists (the rate-limiting samplers).
    An unset sampler is the SDK's default, ``parentbased_always_on``.
    """
    name = (sampler or "parentbased_always_on").strip().lower()
    if name in ("always_on", "parentbased_always_on"):
        return 1.0
    if name in ("always_off", "parentbased_always_off"):
        return 0.0
    if name in RATIO_SAMPLERS:
        try:
            ratio = float(argument) if argument and argument.strip() else 1.0
        except ValueError:
            return 1.0  # the SDK falls back to 1.0 on a bad argument too
        return ratio if 0.0 <= ratio <= 1.0 else 1.0
    return None
