"""services.common.encoder_guard: the direct encoders only where they were tested, nothing lost.

Each test exports through the real exporter classes to a requests adapter
that records the request bodies, and compares them with the stock encoder's
message, so "exported" means the collector got every span or record.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as stock_encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as stock_encode
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.common import encoder_guard, exporters, otlp_encoding, otlp_log_encoding, span_loss
from services.common.otlp_encoding import FastOTLPSpanExporter
from tests.unit.common.otlp_collector import Collector, log_exporter, span_exporter

ROOT = Path(__file__).resolve().parents[3]
GUARD_LOGGER = encoder_guard.log.name


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture(autouse=True)
def fresh_version_check() -> Iterator[None]:
    """The version check is cached per process; each test decides it anew."""
    encoder_guard.direct_encoding_supported.cache_clear()
    yield
    encoder_guard.direct_encoding_supported.cache_clear()


def lab_spans() -> list[ReadableSpan]:
    """A server span with an event and a child, under a resource, as a service makes them."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "user", "service.version": "1"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("guard.test", "1.0")
    with tracer.start_as_current_span("GET /api/users/{id}", kind=SpanKind.SERVER) as span:
        span.set_attribute("http.response.status_code", 200)
        span.add_event("cache.miss", {"key": "user:42"})
        with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT):
            pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def lab_log_records() -> list:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource({"service.name": "user"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("guard.test")
    for index in range(3):
        logger.emit(body=f"line {index}", attributes={"http.route": "/api/users/{id}"})
    provider.shutdown()
    return list(memory.get_finished_logs())


def guard_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == GUARD_LOGGER]


def untested_sdk(monkeypatch) -> None:
    monkeypatch.setattr(
        encoder_guard,
        "installed_versions",
        lambda: {package: "9.0.0" for package in encoder_guard.GUARDED_PACKAGES},
    )


def refuse_direct(monkeypatch) -> None:
    """Make any use of the direct encoders fail the test."""

    def direct(batch):
        raise AssertionError("the direct encoder ran on an untested SDK")

    monkeypatch.setattr(otlp_encoding, "encode_spans", direct)
    monkeypatch.setattr(otlp_log_encoding, "encode_logs", direct)


def test_an_untested_sdk_exports_spans_with_the_stock_exporter_after_one_warning(
    monkeypatch, caplog, collector
):
    untested_sdk(monkeypatch)
    refuse_direct(monkeypatch)
    caplog.set_level(logging.WARNING, logger=GUARD_LOGGER)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "tracelab")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector.invalid/v1/traces")
    assert isinstance(exporters.build(exporters.TRACES), FastOTLPSpanExporter)
    spans = lab_spans()
    exporter = span_exporter(collector)
    second = span_exporter(collector)  # a second exporter in the process: no second warning
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert second.export(spans) is SpanExportResult.SUCCESS
    assert [ExportTraceServiceRequest.FromString(b) for b in collector.bodies] == [
        stock_encode(spans)
    ] * 2
    [warning] = guard_warnings(caplog)
    assert "9.0.0" in warning and "1.45.1" in warning and "stock" in warning


def test_an_untested_sdk_exports_log_records_with_the_stock_exporter(
    monkeypatch, caplog, collector
):
    untested_sdk(monkeypatch)
    refuse_direct(monkeypatch)
    caplog.set_level(logging.WARNING, logger=GUARD_LOGGER)
    records = lab_log_records()
    assert log_exporter(collector).export(records) is LogRecordExportResult.SUCCESS
    assert span_exporter(collector).export(lab_spans()) is SpanExportResult.SUCCESS
    assert ExportLogsServiceRequest.FromString(collector.bodies[0]) == stock_encode_logs(records)
    assert len(guard_warnings(caplog)) == 1  # once per process, for both signals


def rename_scope_field(monkeypatch, spans: list[ReadableSpan]) -> None:
    """What an SDK release renaming ReadableSpan._instrumentation_scope looks like."""
    monkeypatch.setattr(ReadableSpan, "instrumentation_scope", property(lambda s: s._scope))
    for span in spans:
        span._scope = span.__dict__.pop("_instrumentation_scope")


def test_a_renamed_private_field_exports_the_batch_with_the_stock_encoder(
    monkeypatch, caplog, collector
):
    caplog.set_level(logging.WARNING, logger=GUARD_LOGGER)
    reader = InMemoryMetricReader()
    meters = span_loss.build_meter_provider(
        Resource({"service.name": "svc"}),
        {"OTEL_METRICS_EXPORTER": "none", span_loss.LOG_INTERVAL_VAR: "3600"},
        extra_readers=(reader,),
    )
    exporter = span_exporter(collector)
    counted = span_loss.CountingExporter(exporter, meters, span_loss.SPANS)
    first, later = lab_spans(), lab_spans()
    rename_scope_field(monkeypatch, first + later)
    assert counted.export(first) is SpanExportResult.SUCCESS
    assert counted.export(later) is SpanExportResult.SUCCESS
    assert [ExportTraceServiceRequest.FromString(b) for b in collector.bodies] == [
        stock_encode(first),
        stock_encode(later),
    ]
    [warning] = guard_warnings(caplog)
    assert "AttributeError" in warning and "_instrumentation_scope" in warning
    totals = span_loss.totals_from(reader.get_metrics_data(), span_loss.SPANS)
    assert (totals.exported, totals.lost) == (len(first) + len(later), 0)
    meters.shutdown()


def test_a_failing_direct_log_encoder_falls_back_for_the_batch(monkeypatch, caplog, collector):
    caplog.set_level(logging.WARNING, logger=GUARD_LOGGER)

    def drifted(record):
        raise AttributeError("'ReadableLogRecord' object has no attribute 'log_record'")

    monkeypatch.setattr(otlp_log_encoding, "_log_record", drifted)
    records = lab_log_records()
    exporter = log_exporter(collector)
    assert exporter.export(records) is LogRecordExportResult.SUCCESS
    assert exporter.export(records) is LogRecordExportResult.SUCCESS
    assert [ExportLogsServiceRequest.FromString(b) for b in collector.bodies] == [
        stock_encode_logs(records)
    ] * 2
    assert len(guard_warnings(caplog)) == 1


def test_a_tested_sdk_uses_the_direct_encoders(monkeypatch, caplog, collector):
    caplog.set_level(logging.WARNING, logger=GUARD_LOGGER)
    calls = []
    direct_spans, direct_logs = otlp_encoding.encode_spans, otlp_log_encoding.encode_logs
    monkeypatch.setattr(
        otlp_encoding, "encode_spans", lambda b: calls.append("spans") or direct_spans(b)
    )
    monkeypatch.setattr(
        otlp_log_encoding, "encode_logs", lambda b: calls.append("logs") or direct_logs(b)
    )
    spans, records = lab_spans(), lab_log_records()
    assert span_exporter(collector).export(spans) is SpanExportResult.SUCCESS
    assert log_exporter(collector).export(records) is LogRecordExportResult.SUCCESS
    assert calls == ["spans", "logs"]
    assert ExportTraceServiceRequest.FromString(collector.bodies[0]) == stock_encode(spans)
    assert guard_warnings(caplog) == []


def test_the_locked_sdk_is_a_tested_version():
    """Upgrading the SDK in uv.lock fails here until the encoders are tested on it."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {p["name"]: p["version"] for p in lock["package"]}
    for package in encoder_guard.GUARDED_PACKAGES:
        assert locked[package] in encoder_guard.TESTED_VERSIONS, package
    assert encoder_guard.direct_encoding_supported()
