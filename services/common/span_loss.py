"""Count the spans a service loses before they reach the collector, and say so.

A span can be lost inside a service in two places: the batch span
processor's queue is full (the span is dropped at once), or an export fails
after the exporter's own retries (its whole batch is gone).

- Drops: the SDK's ``BatchSpanProcessor`` counts them itself when given a
  ``MeterProvider`` (its supported hook), as the semantic-convention metric
  ``otel.sdk.processor.span.processed`` with ``error.type=queue_full``; it
  also reports its queue length. Nothing outside the processor can see a
  drop, so there is no other way to count it exactly.
- Failed exports: :class:`CountingSpanExporter` wraps the exporter and
  counts every export whose result is ``FAILURE`` (or that raises), with its
  spans, as ``tracelab.exporter.exports`` / ``tracelab.exporter.spans``
  (``outcome`` attribute). The OTLP exporters' own metric cannot be used:
  the OTLP/HTTP exporter records a batch refused with an HTTP status (a 400,
  or a 503 after its retries) as exported, since no exception was raised.

:func:`build_meter_provider` makes the private provider both report to,
with two readers:

- OTLP metrics to the collector, which shows them per service and process
  on its Prometheus endpoint beside the span metrics (docs/telemetry.md says
  why this and not a ``/metrics`` endpoint per service);
- :class:`SpanLossLog`: every ``TRACELAB_SPAN_LOSS_LOG_INTERVAL_S`` seconds,
  one WARNING line with the counts, only when something was lost since the
  previous line. It does not need the collector, so it also speaks while the
  collector is down, which is when spans are lost.

The provider is not the global one: nothing else in the process reports to
it, and instrumentations keep the no-op global meter.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
    NumberDataPoint,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.semconv._incubating.metrics.otel_metrics import (
    OTEL_SDK_PROCESSOR_SPAN_PROCESSED,
    OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE,
)

from services.common.config import OTLP_PROTOCOLS, otlp_protocol

log = logging.getLogger(__name__)

# Read by the SDK when a processor, an exporter or a tracer is built. Tracers would
# also count every span started (about 1 µs per span here), which we do not
# want, so it is switched on only while the processor is built.
INTERNAL_METRICS_VAR = "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED"
LOG_INTERVAL_VAR = "TRACELAB_SPAN_LOSS_LOG_INTERVAL_S"
DEFAULT_LOG_INTERVAL_S = 10.0
# OTEL_METRIC_EXPORT_INTERVAL (ms) wins; the SDK's own default is 60 s.
DEFAULT_METRIC_EXPORT_INTERVAL_MS = 10_000
ERROR_TYPE = "error.type"
QUEUE_FULL = "queue_full"
EXPORTED_SPANS = "tracelab.exporter.spans"
EXPORT_CALLS = "tracelab.exporter.exports"
OUTCOME = "outcome"
# How every span-loss log line begins (log readers, e.g. `tracelab doctor`, look for it).
LOG_PREFIX = "spans lost in the last"

T = TypeVar("T")


@dataclass(frozen=True)
class SpanLossTotals:
    """Cumulative span counts of one process since its telemetry started."""

    queued_for_export: int = 0  # spans the processor handed to the exporter
    dropped_queue_full: int = 0
    dropped_after_shutdown: int = 0
    exported: int = 0
    export_failed_spans: int = 0
    failed_exports: int = 0  # export calls that failed (each loses its batch)
    in_queue: int = 0  # spans waiting in the processor's queue right now

    @property
    def lost(self) -> int:
        """Every span that will never reach the collector."""
        return self.dropped_queue_full + self.dropped_after_shutdown + self.export_failed_spans

    @property
    def ended(self) -> int:
        """Every sampled span that reached the processor: queued, sent or dropped."""
        return (
            self.queued_for_export
            + self.dropped_queue_full
            + self.dropped_after_shutdown
            + self.in_queue
        )

    def minus(self, earlier: SpanLossTotals) -> SpanLossTotals:
        """The counts added since ``earlier`` (``in_queue`` is this one's)."""
        values = {f.name: getattr(self, f.name) - getattr(earlier, f.name) for f in fields(self)}
        values["in_queue"] = self.in_queue
        return SpanLossTotals(**values)


def _number_points(metric: Any) -> list[NumberDataPoint]:
    return [p for p in metric.data.data_points if isinstance(p, NumberDataPoint)]


def totals_from(data: MetricsData | None) -> SpanLossTotals:
    """Add up the SDK's processor and exporter span metrics found in ``data``."""
    counts: dict[str, int] = {f.name: 0 for f in fields(SpanLossTotals)}
    if data is None:
        return SpanLossTotals()
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                _add_metric(metric, counts)
    return SpanLossTotals(**counts)


def _add_metric(metric: Any, counts: dict[str, int]) -> None:
    if metric.name == OTEL_SDK_PROCESSOR_SPAN_PROCESSED:
        for point in _number_points(metric):
            error = (point.attributes or {}).get(ERROR_TYPE)
            if error is None:
                key = "queued_for_export"
            elif error == QUEUE_FULL:
                key = "dropped_queue_full"
            else:
                key = "dropped_after_shutdown"
            counts[key] += int(point.value)
    elif metric.name in (EXPORTED_SPANS, EXPORT_CALLS):
        spans = metric.name == EXPORTED_SPANS
        for point in _number_points(metric):
            failed = (point.attributes or {}).get(OUTCOME) == "failed"
            if spans:
                counts["export_failed_spans" if failed else "exported"] += int(point.value)
            elif failed:
                counts["failed_exports"] += int(point.value)
    elif metric.name == OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE:
        counts["in_queue"] += sum(int(p.value) for p in _number_points(metric))


def describe(lost: SpanLossTotals, totals: SpanLossTotals, interval_s: float) -> str:
    """The log line for ``lost`` (the increase) out of ``totals`` (since start)."""
    return (
        f"{LOG_PREFIX} {interval_s:g} s: {lost.dropped_queue_full} dropped "
        f"(export queue full, {lost.in_queue} queued now), {lost.export_failed_spans} in "
        f"{lost.failed_exports} failed exports, {lost.dropped_after_shutdown} after shutdown; "
        f"since start: {totals.lost} lost of {totals.ended} ended"
    )


class SpanLossLog(MetricExporter):
    """A metric exporter that logs one line when spans were lost since its last call."""

    def __init__(self, interval_s: float, logger: logging.Logger | None = None) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.logger = logger or log
        self.previous = SpanLossTotals()

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Compare the totals with the previous call; log the losses in between."""
        totals = totals_from(metrics_data)
        lost = totals.minus(self.previous)
        self.previous = totals
        if lost.lost > 0:
            self.logger.warning(
                describe(lost, totals, self.interval_s),
                extra={
                    "spans_dropped_queue_full": lost.dropped_queue_full,
                    "spans_export_failed": lost.export_failed_spans,
                    "failed_exports": lost.failed_exports,
                    "spans_dropped_after_shutdown": lost.dropped_after_shutdown,
                    "spans_in_queue": lost.in_queue,
                    "spans_lost_total": totals.lost,
                },
            )
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Nothing is buffered."""
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Nothing to release."""


class CountingSpanExporter(SpanExporter):
    """Wraps a span exporter and counts its exports and spans by outcome."""

    def __init__(self, exporter: SpanExporter, meter_provider: MeterProvider) -> None:
        self.exporter = exporter
        meter = meter_provider.get_meter(__name__)
        self._spans = meter.create_counter(
            EXPORTED_SPANS, unit="{span}", description="Spans handed to the exporter, by outcome"
        )
        self._calls = meter.create_counter(
            EXPORT_CALLS, unit="{export}", description="Export calls, by outcome"
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export through the wrapped exporter; a failure or an exception counts as lost."""
        result = SpanExportResult.FAILURE
        try:
            result = self.exporter.export(spans)
        finally:
            outcome = {OUTCOME: "exported" if result is SpanExportResult.SUCCESS else "failed"}
            self._spans.add(len(spans), outcome)
            self._calls.add(1, outcome)
        return result

    def shutdown(self) -> None:
        """Shut the wrapped exporter down."""
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush the wrapped exporter."""
        return self.exporter.force_flush(timeout_millis)


def _positive_float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ValueError(f"{name}={raw!r} must be a positive number")
    return value


def otlp_metric_exporter(environ: Mapping[str, str]) -> MetricExporter | None:
    """The OTLP metric exporter ``OTEL_METRICS_EXPORTER`` asks for (``otlp``), or None (``none``).

    The protocol follows ``OTEL_EXPORTER_OTLP_(METRICS_)PROTOCOL`` like the span exporter.
    """
    choice = environ.get("OTEL_METRICS_EXPORTER", "otlp").strip().lower() or "otlp"
    if choice == "none":
        return None
    if choice != "otlp":
        raise ValueError(f"OTEL_METRICS_EXPORTER {choice!r} is not one of otlp, none")
    protocol = otlp_protocol("METRICS", environ)
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    elif protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
            OTLPMetricExporter,
        )
    else:
        raise ValueError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL {protocol!r} is not one of {', '.join(OTLP_PROTOCOLS)}"
        )
    return OTLPMetricExporter()


def build_meter_provider(
    resource: Resource,
    environ: Mapping[str, str] | None = None,
    *,
    extra_readers: tuple[MetricReader, ...] = (),
) -> MeterProvider:
    """The private provider the span processor and exporter report their counts to.

    ``extra_readers`` (unit tests: an in-memory reader) are added to the OTLP
    and log readers. ``resource`` is the service's: its ``service.instance.id``
    (a UUID per process, made by the SDK) keeps each gunicorn worker's counts
    apart in the collector.
    """
    env = os.environ if environ is None else environ
    interval_s = _positive_float(env, LOG_INTERVAL_VAR, DEFAULT_LOG_INTERVAL_S)
    log_reader = PeriodicExportingMetricReader(
        SpanLossLog(interval_s), export_interval_millis=interval_s * 1000
    )
    readers: list[MetricReader] = [log_reader]
    exporter = otlp_metric_exporter(env)
    if exporter is not None:
        export_ms = _positive_float(
            env, "OTEL_METRIC_EXPORT_INTERVAL", DEFAULT_METRIC_EXPORT_INTERVAL_MS
        )
        readers.append(PeriodicExportingMetricReader(exporter, export_interval_millis=export_ms))
    readers.extend(extra_readers)
    return MeterProvider(metric_readers=readers, resource=resource)


@contextmanager
def _internal_metrics_on() -> Iterator[None]:
    previous = os.environ.get(INTERNAL_METRICS_VAR)
    os.environ[INTERNAL_METRICS_VAR] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(INTERNAL_METRICS_VAR, None)
        else:
            os.environ[INTERNAL_METRICS_VAR] = previous


def with_loss_metrics(build: Callable[[], T]) -> T:
    """Call ``build`` (which makes the span processor) with the SDK's counts on.

    Runs once per process at start-up, before any other thread reads the
    environment.
    """
    with _internal_metrics_on():
        return build()
