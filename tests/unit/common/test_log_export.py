"""OTLP log export: trace-correlated records, batched, off with OTEL_LOGS_EXPORTER=none."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
    OTLPLogExporter as GrpcLogExporter,
)
from opentelemetry.exporter.otlp.proto.http._log_exporter import (
    OTLPLogExporter as HttpLogExporter,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource

from services.common import log_export, telemetry
from services.common.config import ConfigError
from services.common.logs import ACCESS_LOGGER, log_access


def test_a_line_logged_inside_a_span_carries_that_spans_ids(spans, exported_logs):
    """What telemetry.init installed: the root logger's records reach the log export."""
    with telemetry.tracer("test").start_as_current_span("work") as span:
        logging.getLogger("tracelab.test").warning("inside %s", "the span")
    logging.getLogger("tracelab.test").warning("outside")
    inside, outside = [data.log_record for data in exported_logs.get_finished_logs()]
    context = span.get_span_context()
    assert inside.body == "inside the span"
    assert inside.trace_id == context.trace_id and inside.span_id == context.span_id
    assert inside.trace_flags == context.trace_flags
    assert inside.severity_text == "WARN"
    assert not outside.trace_id and not outside.span_id


def test_exported_records_have_the_service_resource_and_extra_fields(spans, exported_logs, caplog):
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    with telemetry.tracer("test").start_as_current_span("GET /x"):
        log_access("GET", "/x", 404, 1.5)
    (data,) = exported_logs.get_finished_logs()
    assert data.resource.attributes["service.name"] == "tracelab-unit"
    attributes = dict(data.log_record.attributes)
    assert attributes["http.response.status_code"] == 404
    assert attributes["url.path"] == "/x"
    assert data.log_record.trace_id


def in_memory_provider() -> tuple[LoggerProvider, InMemoryLogRecordExporter]:
    exporter = InMemoryLogRecordExporter()
    provider = log_export.build_provider(
        Resource({"service.name": "svc"}), SimpleLogRecordProcessor(exporter)
    )
    assert provider is not None
    return provider, exporter


def test_the_sdks_own_records_are_not_exported():
    """An export failure logged by the SDK must not become the next export."""
    provider, exporter = in_memory_provider()
    logger = logging.getLogger("tracelab.test.sdk-filter")
    logger.addHandler(log_export.build_handler(provider))
    try:
        logging.getLogger("opentelemetry.sdk._shared_internal").warning("export failed")
        logger.warning("kept")
    finally:
        logger.handlers.clear()
    assert [d.log_record.body for d in exporter.get_finished_logs()] == ["kept"]


def test_none_turns_log_export_off(monkeypatch):
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    assert log_export.build_processor() is None
    assert log_export.build_provider(Resource({"service.name": "svc"})) is None


def test_otlp_is_the_default_and_is_batched(monkeypatch):
    """Records are queued on the request thread and exported by the batch thread."""
    monkeypatch.delenv("OTEL_LOGS_EXPORTER", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    processor = log_export.build_processor()
    try:
        assert isinstance(processor, BatchLogRecordProcessor)
        assert isinstance(processor._batch_processor._exporter, HttpLogExporter)
    finally:
        processor.shutdown()


def test_exporter_follows_the_protocol_variables(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpc")
    assert isinstance(log_export.build_exporter(), GrpcLogExporter)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "carrier-pigeon")
    with pytest.raises(ConfigError, match="carrier-pigeon"):
        log_export.build_exporter()


def test_an_unknown_logs_exporter_is_refused(monkeypatch):
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "console,otlp")
    with pytest.raises(ConfigError, match="OTEL_LOGS_EXPORTER"):
        log_export.build_processor()


def test_the_logs_endpoint_variable_is_the_exporters():
    """The stock exporter reads OTEL_EXPORTER_OTLP_LOGS_ENDPOINT (no code of ours to drift)."""
    exporter = HttpLogExporter()
    try:
        assert exporter._endpoint.endswith("/v1/logs")
    finally:
        exporter.shutdown()
