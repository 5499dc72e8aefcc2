"""Count the spans and log records a service loses before they reach the collector, and say so.

Spans and log records leave a service the same way, through one of the SDK's
batch processors and an OTLP exporter, so they are counted by one mechanism
with the signal (:data:`SPANS`, :data:`LOG_RECORDS`) as a parameter. An item
can be lost in two places: the batch processor's queue is full (the item is
dropped at once), or an export fails after the exporter's own retries (its
whole batch is given up).

- Drops: the SDK's ``BatchSpanProcessor`` and ``BatchLogRecordProcessor``
  count them themselves when given a ``MeterProvider`` (their supported
  hook), as the semantic-convention metrics ``otel.sdk.processor.span.processed``
  / ``otel.sdk.processor.log.processed`` with ``error.type=queue_full``; they
  also report their queue length. Nothing outside the processor can see a
  drop, so there is no other way to count it exactly.
- Failed exports: :class:`CountingExporter` wraps the exporter and counts
  every export whose result is ``FAILURE`` (or that raises), with its items,
  as ``tracelab.exporter.spans`` / ``tracelab.exporter.log_records``
  (``outcome`` attribute) and ``tracelab.exporter.exports`` (``signal`` and
  ``outcome``). The OTLP exporters' own metric cannot be used: the OTLP/HTTP
  exporter records a batch refused with an HTTP status (a 400, or a 503
  after its retries) as exported, since no exception was raised.

:func:`build_meter_provider` makes the private provider both report to,
with two readers:

- OTLP metrics to the collector, which shows them per service and process
  on its Prometheus endpoint beside the span metrics (docs/telemetry.md says
  why this and not a ``/metrics`` endpoint per service);
- :class:`LossLog`: every ``TRACELAB_SPAN_LOSS_LOG_INTERVAL_S`` seconds, one
  WARNING line per signal with the counts, only when that signal lost
  something since the previous line. It does not need the collector, so it
  also speaks while the collector is down, which is when items are lost.
  The line about lost log records stays out of the OTLP log export
  (:data:`services.common.logs.LOCAL_ONLY`): exported, it would be one
  more record for the failing export to lose.

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

from opentelemetry.sdk._logs.export import LogRecordExportResult
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
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.semconv._incubating.metrics.otel_metrics import (
    OTEL_SDK_PROCESSOR_LOG_PROCESSED,
    OTEL_SDK_PROCESSOR_LOG_QUEUE_SIZE,
    OTEL_SDK_PROCESSOR_SPAN_PROCESSED,
    OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE,
)

from services.common.config import OTLP_PROTOCOLS, otlp_protocol
from services.common.logs import LOCAL_ONLY

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
EXPORT_CALLS = "tracelab.exporter.exports"
OUTCOME = "outcome"
SIGNAL = "signal"

T = TypeVar("T")


@dataclass(frozen=True)
class Signal:
    """One kind of telemetry whose losses are counted, and the names it is counted under."""

    name: str  # the ``signal`` attribute: the SDK's names for the signals
    noun: str  # what the log line calls its items
    arrived: str  # what the line says of every item the processor got
    field_prefix: str  # of the log line's extra fields
    unit: str
    processed: str  # the SDK processor's counter
    queue_size: str  # the SDK processor's queue gauge
    exported: str  # CountingExporter's counter of items
    success: Any  # the exporter's result for a batch delivered
    # A line about this signal's losses must not be exported over OTLP logs.
    local_only: bool


SPANS = Signal(
    name="traces",
    noun="spans",
    arrived="ended",
    field_prefix="spans",
    unit="{span}",
    processed=OTEL_SDK_PROCESSOR_SPAN_PROCESSED,
    queue_size=OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE,
    exported="tracelab.exporter.spans",
    success=SpanExportResult.SUCCESS,
    local_only=False,
)
LOG_RECORDS = Signal(
    name="logs",
    noun="log records",
    arrived="emitted",
    field_prefix="log_records",
    unit="{log_record}",
    processed=OTEL_SDK_PROCESSOR_LOG_PROCESSED,
    queue_size=OTEL_SDK_PROCESSOR_LOG_QUEUE_SIZE,
    exported="tracelab.exporter.log_records",
    success=LogRecordExportResult.SUCCESS,
    local_only=True,
)
# How every span-loss log line begins (log readers, e.g. `tracelab doctor`, look for it).
LOG_PREFIX = f"{SPANS.noun} lost in the last"
SIGNALS = (SPANS, LOG_RECORDS)


@dataclass(frozen=True)
class LossTotals:
    """Cumulative counts of one signal in one process since its telemetry started."""

    queued_for_export: int = 0  # items the processor handed to the exporter
    dropped_queue_full: int = 0
    dropped_after_shutdown: int = 0
    exported: int = 0
    export_failed: int = 0  # items in failed exports
    failed_exports: int = 0  # export calls that failed (each loses its batch)
    in_queue: int = 0  # items waiting in the processor's queue right now

    @property
    def lost(self) -> int:
        """Every item that will never reach the collector."""
        return self.dropped_queue_full + self.dropped_after_shutdown + self.export_failed

    @property
    def ended(self) -> int:
        """Every item that reached the processor: queued, sent or dropped."""
        return (
            self.queued_for_export
            + self.dropped_queue_full
            + self.dropped_after_shutdown
            + self.in_queue
        )

    def minus(self, earlier: LossTotals) -> LossTotals:
        """The counts added since ``earlier`` (``in_queue`` is this one's)."""
        values = {f.name: getattr(self, f.name) - getattr(earlier, f.name) for f in fields(self)}
        values["in_queue"] = self.in_queue
        return LossTotals(**values)


def _number_points(metric: Any) -> list[NumberDataPoint]:
    return [p for p in metric.data.data_points if isinstance(p, NumberDataPoint)]


def totals_from(data: MetricsData | None, signal: Signal) -> LossTotals:
    """Add up the SDK's processor and our exporter metrics of ``signal`` found in ``data``."""
    counts: dict[str, int] = {f.name: 0 for f in fields(LossTotals)}
    if data is None:
        return LossTotals()
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                _add_metric(metric, signal, counts)
    return LossTotals(**counts)


def _add_metric(metric: Any, signal: Signal, counts: dict[str, int]) -> None:
    if metric.name == signal.processed:
        for point in _number_points(metric):
            error = (point.attributes or {}).get(ERROR_TYPE)
            if error is None:
                key = "queued_for_export"
            elif error == QUEUE_FULL:
                key = "dropped_queue_full"
            else:
                key = "dropped_after_shutdown"
            counts[key] += int(point.value)
    elif metric.name == signal.exported:
        for point in _number_points(metric):
            failed = (point.attributes or {}).get(OUTCOME) == "failed"
            counts["export_failed" if failed else "exported"] += int(point.value)
    elif metric.name == EXPORT_CALLS:
        for point in _number_points(metric):
            attributes = point.attributes or {}
            if attributes.get(SIGNAL) == signal.name and attributes.get(OUTCOME) == "failed":
                counts["failed_exports"] += int(point.value)
    elif metric.name == signal.queue_size:
        counts["in_queue"] += sum(int(p.value) for p in _number_points(metric))


def describe(signal: Signal, lost: LossTotals, totals: LossTotals, interval_s: float) -> str:
    """The log line for ``lost`` (the increase) out of ``totals`` (since start)."""
    return (
        f"{signal.noun} lost in the last {interval_s:g} s: {lost.dropped_queue_full} dropped "
        f"(export queue full, {lost.in_queue} queued now), {lost.export_failed} in "
        f"{lost.failed_exports} failed exports, {lost.dropped_after_shutdown} after shutdown; "
        f"since start: {totals.lost} lost of {totals.ended} {signal.arrived}"
    )


def loss_fields(signal: Signal, lost: LossTotals, totals: LossTotals) -> dict[str, Any]:
    """The log line's extra fields (``spans_...`` or ``log_records_...``)."""
    prefix = signal.field_prefix
    extra: dict[str, Any] = {
        SIGNAL: signal.name,
        f"{prefix}_dropped_queue_full": lost.dropped_queue_full,
        f"{prefix}_export_failed": lost.export_failed,
        "failed_exports": lost.failed_exports,
        f"{prefix}_dropped_after_shutdown": lost.dropped_after_shutdown,
        f"{prefix}_in_queue": lost.in_queue,
        f"{prefix}_lost_total": totals.lost,
    }
    if signal.local_only:
        extra[LOCAL_ONLY] = True
    return extra


class LossLog(MetricExporter):
    """A metric exporter that logs one line per signal that lost items since its last call."""

    def __init__(self, interval_s: float, logger: logging.Logger | None = None) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.logger = logger or log
        self.previous = {signal.name: LossTotals() for signal in SIGNALS}

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Compare each signal's totals with the previous call; log the losses in between."""
        for signal in SIGNALS:
            totals = totals_from(metrics_data, signal)
            lost = totals.minus(self.previous[signal.name])
            self.previous[signal.name] = totals
            if lost.lost > 0:
                self.logger.warning(
                    describe(signal, lost, totals, self.interval_s),
                    extra=loss_fields(signal, lost, totals),
                )
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Nothing is buffered."""
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Nothing to release."""


class LossLogReader(PeriodicExportingMetricReader):
    """Reads the counts into :class:`LossLog` every ``TRACELAB_SPAN_LOSS_LOG_INTERVAL_S`` seconds.

    Also the ``tracelab_span_loss`` entry point of ``opentelemetry_metrics_exporter``:
    under ``opentelemetry-instrument`` (``TRACELAB_INSTRUMENTATION=zero-code``)
    the SDK's configurator builds it from ``OTEL_METRICS_EXPORTER`` into the
    global meter provider, where the SDK's batch processors count their drops.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        interval_s = _positive_float(env, LOG_INTERVAL_VAR, DEFAULT_LOG_INTERVAL_S)
        super().__init__(LossLog(interval_s), export_interval_millis=interval_s * 1000)


class CountingExporter:
    """Wraps a span or log record exporter and counts its exports and items by outcome.

    It has the exporter interface the SDK's batch processors call
    (``export``, ``shutdown``, ``force_flush``) for either signal.
    """

    def __init__(self, exporter: Any, meter_provider: MeterProvider, signal: Signal) -> None:
        self.exporter = exporter
        self.signal = signal
        meter = meter_provider.get_meter(__name__)
        self._items = meter.create_counter(
            signal.exported,
            unit=signal.unit,
            description=f"{signal.noun.capitalize()} handed to the exporter, by outcome",
        )
        self._calls = meter.create_counter(
            EXPORT_CALLS, unit="{export}", description="Export calls, by signal and outcome"
        )

    def export(self, batch: Sequence[Any]) -> Any:
        """Export through the wrapped exporter; a failure or an exception counts as lost."""
        result = None
        try:
            result = self.exporter.export(batch)
        finally:
            outcome = "exported" if result == self.signal.success else "failed"
            self._items.add(len(batch), {OUTCOME: outcome})
            self._calls.add(1, {SIGNAL: self.signal.name, OUTCOME: outcome})
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
    """The private provider the batch processors and exporters report their counts to.

    ``extra_readers`` (unit tests: an in-memory reader) are added to the OTLP
    and log readers. ``resource`` is the service's: its ``service.instance.id``
    (a UUID per process, made by the SDK) keeps each gunicorn worker's counts
    apart in the collector.
    """
    env = os.environ if environ is None else environ
    readers: list[MetricReader] = [LossLogReader(env)]
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


def counted_processor(
    build: Callable[..., T], exporter: Any, signal: Signal, meter_provider: MeterProvider | None
) -> T:
    """``build(exporter)`` (a batch processor class), counting its lost ``signal`` items.

    With a ``meter_provider``, the processor counts there what it drops on a
    full queue (the SDK's counts are on while it is built) and the wrapped
    exporter its failed exports (:class:`CountingExporter`); without one it
    is ``build(exporter)`` as it is. Runs once per process at start-up,
    before any other thread reads the environment.
    """
    if meter_provider is None:
        return build(exporter)
    counted = CountingExporter(exporter, meter_provider, signal)
    with _internal_metrics_on():
        return build(counted, meter_provider=meter_provider)
