"""Lost spans and log records are counted: a full export queue and failed exports.

(services.common.span_loss.) The processors and exporters are the ones the
services run (the SDK's batch processors, our OTLP/HTTP exporters),
reporting to an in-memory metric reader or to the OTLP metric exporter; the
"collector" is a requests adapter answering in-process, so nothing here
touches the network.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from services.common import log_export, span_loss, telemetry
from tests.unit.common.otlp_collector import Collector, log_exporter, session, span_exporter

QUIET = {"OTEL_METRICS_EXPORTER": "none", span_loss.LOG_INTERVAL_VAR: "3600"}


class _GatedExporter(SpanExporter):
    """Holds every export until ``gate`` opens; remembers what it got."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.received = 0

    def export(self, batch):
        self.entered.set()
        self.gate.wait(10)
        self.received += len(batch)
        return SpanExportResult.SUCCESS


class _GatedLogExporter(_GatedExporter):
    def export(self, batch):
        super().export(batch)
        return LogRecordExportResult.SUCCESS


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def meters(reader) -> Iterator[MeterProvider]:
    provider = span_loss.build_meter_provider(
        Resource({"service.name": "svc"}), QUIET, extra_readers=(reader,)
    )
    yield provider
    provider.shutdown()


def _tracer_provider(processor) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider


def _end_spans(provider: TracerProvider, count: int) -> None:
    tracer = provider.get_tracer("t")
    for index in range(count):
        with tracer.start_as_current_span(f"span-{index}"):
            pass


def test_a_full_queue_counts_exactly_the_spans_it_drops(monkeypatch, meters, reader):
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "8")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4")
    exporter = _GatedExporter()
    processor = telemetry.build_batch_processor(meters, lambda: exporter)
    provider = _tracer_provider(processor)
    _end_spans(provider, 4)  # one batch: the exporter takes it and gets stuck
    assert exporter.entered.wait(5)
    # Only now overflow the queue: the SDK counts a drop when it finds the
    # queue full, and a worker taking a batch at that very moment would make
    # the count one too high (a race inside the SDK, not a miscount here).
    _end_spans(provider, 46)
    exporter.gate.set()
    processor.force_flush()
    totals = span_loss.totals_from(reader.get_metrics_data(), span_loss.SPANS)
    dropped = 50 - exporter.received
    assert dropped == 50 - 4 - 8  # the batch being exported and a full queue are kept
    assert totals.dropped_queue_full == dropped
    assert totals.queued_for_export == exporter.received
    assert totals.lost == dropped and totals.ended == 50
    provider.shutdown()


def test_failed_exports_count_their_spans_and_calls(meters, reader):
    collector = Collector(status=400)  # not retryable: each export fails at once
    processor = telemetry.build_batch_processor(meters, lambda: span_exporter(collector))
    provider = _tracer_provider(processor)
    for _ in range(3):
        _end_spans(provider, 5)
        processor.force_flush()
    totals = span_loss.totals_from(reader.get_metrics_data(), span_loss.SPANS)
    assert collector.requests == 3
    assert (totals.failed_exports, totals.export_failed, totals.exported) == (3, 15, 0)
    assert totals.lost == 15 and totals.dropped_queue_full == 0
    provider.shutdown()


def test_a_simple_processor_counts_its_failed_exports_too(monkeypatch, meters, reader):
    collector = Collector(status=400)
    monkeypatch.setattr(telemetry, "build_exporter", lambda: span_exporter(collector))
    provider = _tracer_provider(telemetry.build_simple_processor(meters))
    _end_spans(provider, 2)  # each span is its own export
    totals = span_loss.totals_from(reader.get_metrics_data(), span_loss.SPANS)
    assert (totals.failed_exports, totals.export_failed) == (2, 2)
    provider.shutdown()


def test_successful_exports_count_no_loss(meters, reader):
    collector = Collector(status=200)
    processor = telemetry.build_batch_processor(meters, lambda: span_exporter(collector))
    provider = _tracer_provider(processor)
    _end_spans(provider, 7)
    processor.force_flush()
    totals = span_loss.totals_from(reader.get_metrics_data(), span_loss.SPANS)
    assert (totals.exported, totals.lost, totals.failed_exports) == (7, 0, 0)
    assert totals.in_queue == 0
    provider.shutdown()


def test_spans_ended_after_shutdown_are_counted(meters, reader):
    exporter = _GatedExporter()
    exporter.gate.set()
    processor = telemetry.build_batch_processor(meters, lambda: exporter)
    provider = _tracer_provider(processor)
    tracer = provider.get_tracer("t")
    late = tracer.start_span("late")
    provider.shutdown()
    late.end()
    assert (
        span_loss.totals_from(reader.get_metrics_data(), span_loss.SPANS).dropped_after_shutdown
        == 1
    )


def test_the_sdk_switch_is_restored_after_the_processor_is_built(monkeypatch, meters):
    monkeypatch.delenv(span_loss.INTERNAL_METRICS_VAR, raising=False)
    telemetry.build_batch_processor(meters, _GatedExporter).shutdown()
    assert span_loss.INTERNAL_METRICS_VAR not in os.environ
    monkeypatch.setenv(span_loss.INTERNAL_METRICS_VAR, "false")
    telemetry.build_batch_processor(meters, _GatedExporter).shutdown()
    assert os.environ[span_loss.INTERNAL_METRICS_VAR] == "false"


@pytest.mark.parametrize("status", [400, 503])
def test_a_batch_refused_with_an_http_status_is_a_failed_export(meters, reader, status):
    # The OTLP/HTTP exporter's own metric counts these as exported.
    processor = telemetry.build_batch_processor(
        meters, lambda: span_exporter(Collector(status=status))
    )
    provider = _tracer_provider(processor)
    _end_spans(provider, 4)
    processor.force_flush()
    totals = span_loss.totals_from(reader.get_metrics_data(), span_loss.SPANS)
    assert (totals.failed_exports, totals.export_failed) == (1, 4)
    provider.shutdown()


def test_an_exporter_that_raises_counts_as_a_failed_export(meters, reader):
    class Broken(SpanExporter):
        def export(self, spans):
            raise RuntimeError("encoder bug")

    exporter = span_loss.CountingExporter(Broken(), meters, span_loss.SPANS)
    with pytest.raises(RuntimeError):
        exporter.export([object(), object()])
    totals = span_loss.totals_from(reader.get_metrics_data(), span_loss.SPANS)
    assert (totals.failed_exports, totals.export_failed) == (1, 2)


def test_the_log_line_comes_only_after_a_loss(caplog):
    log = span_loss.LossLog(10, logging.getLogger("test.span_loss"))
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    processor_counts = meters.get_meter("opentelemetry-sdk").create_counter(
        "otel.sdk.processor.span.processed"
    )
    caplog.set_level(logging.WARNING, logger="test.span_loss")
    processor_counts.add(20)
    log.export(reader.get_metrics_data())
    assert caplog.records == []  # 20 sent, nothing lost: silence
    processor_counts.add(3, {"error.type": "queue_full"})
    log.export(reader.get_metrics_data())
    [record] = caplog.records
    assert record.spans_dropped_queue_full == 3 and record.spans_lost_total == 3
    assert "3 dropped" in record.getMessage() and "3 lost of 23 ended" in record.getMessage()
    log.export(reader.get_metrics_data())
    assert len(caplog.records) == 1  # no new loss, no new line
    processor_counts.add(2, {"error.type": "queue_full"})
    log.export(reader.get_metrics_data())
    assert caplog.records[-1].spans_dropped_queue_full == 2
    assert caplog.records[-1].spans_lost_total == 5
    meters.shutdown()


def test_the_periodic_log_reports_a_forced_loss(monkeypatch, caplog):
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "2")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2")
    caplog.set_level(logging.WARNING, logger=span_loss.__name__)
    meters = span_loss.build_meter_provider(Resource({"service.name": "svc"}), QUIET)
    exporter = _GatedExporter()
    processor = telemetry.build_batch_processor(meters, lambda: exporter)
    provider = _tracer_provider(processor)
    _end_spans(provider, 2)
    assert exporter.entered.wait(5)  # see the full-queue test: no batch taken while dropping
    _end_spans(provider, 28)
    exporter.gate.set()
    provider.shutdown()
    meters.shutdown()  # the last collection logs what the period had
    lines = [r for r in caplog.records if r.name == span_loss.__name__]
    assert sum(r.spans_dropped_queue_full for r in lines) == 30 - exporter.received > 0


def test_the_meter_resource_names_the_process(meters, reader):
    counter = meters.get_meter("t").create_counter("c")
    counter.add(1)
    [resource_metrics] = reader.get_metrics_data().resource_metrics
    assert resource_metrics.resource.attributes["service.name"] == "svc"


def _instance_id() -> str:
    return str(telemetry.build_resource("svc", "1", "test").attributes["service.instance.id"])


def test_each_process_reports_under_its_own_instance_id():
    # The collector tells gunicorn workers (forked after import) apart by it.
    parent = _instance_id()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its id and leave at once
        os.write(write_end, _instance_id().encode())
        os._exit(0)
    os.close(write_end)
    child = os.read(read_end, 100).decode()
    os.waitpid(pid, 0)
    os.close(read_end)
    assert parent == _instance_id()
    assert child and child != parent


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"OTEL_METRICS_EXPORTER": "none"}, None),
        ({}, "opentelemetry.exporter.otlp.proto.http.metric_exporter"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "opentelemetry.exporter.otlp.proto.grpc"),
    ],
)
def test_metrics_go_over_otlp_unless_switched_off(environ, expected):
    exporter = span_loss.otlp_metric_exporter(environ)
    if expected is None:
        assert exporter is None
    else:
        assert type(exporter).__module__.startswith(expected)
        exporter.shutdown()


@pytest.mark.parametrize(
    "environ",
    [
        {"OTEL_METRICS_EXPORTER": "prometheus"},
        {"OTEL_EXPORTER_OTLP_PROTOCOL": "smoke-signals"},
    ],
)
def test_unknown_metric_settings_are_refused(environ):
    with pytest.raises(ValueError, match=r"prometheus|smoke-signals"):
        span_loss.otlp_metric_exporter(environ)


def test_a_bad_log_interval_is_refused():
    with pytest.raises(ValueError, match=span_loss.LOG_INTERVAL_VAR):
        span_loss.build_meter_provider(
            Resource({}), {"OTEL_METRICS_EXPORTER": "none", span_loss.LOG_INTERVAL_VAR: "0"}
        )


# ----------------------------------------------------------- log records
def _logger_provider(processor) -> LoggerProvider:
    provider = log_export.build_provider(Resource({"service.name": "svc"}), processor)
    assert provider is not None
    return provider


def _emit_records(provider: LoggerProvider, count: int) -> None:
    """Log ``count`` lines through the services' OTLP handler, as a service would."""
    logger = logging.getLogger("tests.span_loss.records")
    logger.propagate = False
    handler = log_export.build_handler(provider)
    logger.addHandler(handler)
    try:
        for index in range(count):
            logger.warning("line %d", index)
    finally:
        logger.removeHandler(handler)


def _records(reader: InMemoryMetricReader) -> span_loss.LossTotals:
    return span_loss.totals_from(reader.get_metrics_data(), span_loss.LOG_RECORDS)


def test_a_full_log_queue_counts_exactly_the_records_it_drops(monkeypatch, meters, reader):
    monkeypatch.setenv("OTEL_BLRP_MAX_QUEUE_SIZE", "8")
    monkeypatch.setenv("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "4")
    exporter = _GatedLogExporter()
    processor = log_export.build_processor(meters, lambda: exporter)
    provider = _logger_provider(processor)
    _emit_records(provider, 4)  # one batch: the exporter takes it and gets stuck
    assert exporter.entered.wait(5)
    _emit_records(provider, 46)  # see the span test: overflow only once the batch is taken
    exporter.gate.set()
    processor.force_flush()
    totals = _records(reader)
    dropped = 50 - exporter.received
    assert dropped == 50 - 4 - 8
    assert totals.dropped_queue_full == dropped
    assert totals.queued_for_export == exporter.received == totals.exported
    assert totals.lost == dropped and totals.ended == 50
    # Counted as log records, not as spans.
    assert span_loss.totals_from(reader.get_metrics_data(), span_loss.SPANS).ended == 0
    provider.shutdown()


def test_failed_log_exports_count_their_records_and_calls(meters, reader):
    collector = Collector(status=400)  # not retryable: each export fails at once
    processor = log_export.build_processor(meters, lambda: log_exporter(collector))
    provider = _logger_provider(processor)
    for _ in range(3):
        _emit_records(provider, 5)
        processor.force_flush()
    totals = _records(reader)
    assert collector.requests == 3
    assert (totals.failed_exports, totals.export_failed, totals.exported) == (3, 15, 0)
    assert totals.lost == 15 and totals.dropped_queue_full == 0
    # The export calls carry their signal: no span export failed.
    spans = span_loss.totals_from(reader.get_metrics_data(), span_loss.SPANS)
    assert (spans.failed_exports, spans.lost) == (0, 0)
    provider.shutdown()


def test_a_log_record_after_shutdown_is_counted(meters, reader):
    processor = log_export.build_processor(meters, _GatedLogExporter)
    provider = _logger_provider(processor)
    processor.shutdown()
    _emit_records(provider, 1)
    assert _records(reader).dropped_after_shutdown == 1


def _exported_metrics(collector: Collector) -> dict[str, list[tuple[dict, int]]]:
    """The (attributes, value) points of every counter in the OTLP metric requests sent."""
    points: dict[str, list[tuple[dict, int]]] = {}
    for body in collector.bodies:
        request = ExportMetricsServiceRequest.FromString(body)
        for resource_metrics in request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in metric.sum.data_points:
                        attributes = {a.key: a.value.string_value for a in point.attributes}
                        points.setdefault(metric.name, []).append((attributes, point.as_int))
    return points


def test_lost_log_records_are_in_the_metrics_the_service_pushes(monkeypatch):
    """What reaches the collector (and its Prometheus page): the OTLP metric export."""
    monkeypatch.setenv("OTEL_BLRP_MAX_QUEUE_SIZE", "2")
    monkeypatch.setenv("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "2")
    metrics_collector = Collector(status=200)
    pushed = PeriodicExportingMetricReader(
        OTLPMetricExporter(
            endpoint="http://collector.invalid/v1/metrics", session=session(metrics_collector)
        ),
        export_interval_millis=3_600_000,
    )
    meters = span_loss.build_meter_provider(
        Resource({"service.name": "svc"}), QUIET, extra_readers=(pushed,)
    )
    refusing = Collector(status=400)
    exporter = _GatedLogExporter()
    processor = log_export.build_processor(meters, lambda: exporter)
    provider = _logger_provider(processor)
    _emit_records(provider, 2)
    assert exporter.entered.wait(5)
    _emit_records(provider, 5)  # 2 queued, 3 dropped
    exporter.gate.set()
    provider.shutdown()
    failing = log_export.build_processor(meters, lambda: log_exporter(refusing))
    provider = _logger_provider(failing)
    _emit_records(provider, 2)  # one batch (a queue's worth), refused
    provider.shutdown()
    meters.shutdown()  # the last push
    points = _exported_metrics(metrics_collector)
    processed = points["otel.sdk.processor.log.processed"]
    assert sum(v for a, v in processed if a.get("error.type") == "queue_full") == 3
    assert ({"outcome": "failed"}, 2) in points["tracelab.exporter.log_records"]
    assert ({"signal": "logs", "outcome": "failed"}, 1) in points["tracelab.exporter.exports"]


def test_the_line_about_lost_log_records_is_not_exported_over_otlp(caplog):
    """It goes to the JSON lines only: exported, it would feed the failing export."""
    exported = InMemoryLogRecordExporter()
    otlp = log_export.build_handler(_logger_provider(SimpleLogRecordProcessor(exported)))
    logger = logging.getLogger("test.span_loss.feedback")
    logger.addHandler(otlp)
    loss_log = span_loss.LossLog(10, logger)
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    sdk = meters.get_meter("opentelemetry-sdk")
    records = sdk.create_counter("otel.sdk.processor.log.processed")
    spans = sdk.create_counter("otel.sdk.processor.span.processed")
    caplog.set_level(logging.WARNING, logger=logger.name)
    try:
        records.add(4, {"error.type": "queue_full"})
        loss_log.export(reader.get_metrics_data())
        [line] = caplog.records
        assert line.log_records_dropped_queue_full == 4 and line.signal == "logs"
        assert line.getMessage().startswith("log records lost in the last 10 s: 4 dropped")
        assert exported.get_finished_logs() == ()
        spans.add(2, {"error.type": "queue_full"})
        loss_log.export(reader.get_metrics_data())
        assert caplog.records[-1].spans_dropped_queue_full == 2
        # The line about spans is exported (to the log store, beside the spans).
        [record] = exported.get_finished_logs()
        assert str(record.log_record.body).startswith("spans lost in the last")
    finally:
        logger.removeHandler(otlp)
        meters.shutdown()
