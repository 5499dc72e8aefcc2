"""services.common.otlp_log_encoding: the same OTLP logs request as the stock encoder."""

from __future__ import annotations

import logging

import pytest
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as stock_encode
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from services.common import log_export, otlp_log_encoding, telemetry


def records_of(provider: LoggerProvider, exporter: InMemoryLogRecordExporter, emit) -> list:
    emit(provider)
    provider.force_flush()
    return list(exporter.get_finished_logs())


def provider_with(resource: Resource, limits: LogRecordLimits | None = None):
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=resource, log_record_limits=limits)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    return provider, exporter


def through_logging(provider: LoggerProvider) -> None:
    """What the services log: via the handler, in and out of a span, with extras."""
    logger = logging.getLogger("tracelab.test.encoding")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.handlers[:] = [log_export.build_handler(provider)]
    tracer = TracerProvider().get_tracer("test")
    try:
        with tracer.start_as_current_span("GET /x"):
            logger.info(
                "GET /x -> %d",
                200,
                extra={"http.response.status_code": 200, "duration_ms": 1.25, "ok": True},
            )
            try:
                raise ValueError("boom")
            except ValueError:
                logger.exception("failed")
        logger.warning("outside any span, ünïcode")
        logging.getLogger("tracelab.test.other").handlers[:] = logger.handlers
        logging.getLogger("tracelab.test.other").propagate = False
        logging.getLogger("tracelab.test.other").error("another scope")
    finally:
        logger.handlers.clear()
        logging.getLogger("tracelab.test.other").handlers.clear()


def directly(provider: LoggerProvider) -> None:
    """Edge cases straight through the API: no body, an event name, odd values."""
    logger = provider.get_logger("direct", "1.0", schema_url="https://example.com/schema")
    logger.emit(LogRecord(body=None))
    logger.emit(
        LogRecord(
            timestamp=1_700_000_000_000_000_000,
            severity_number=SeverityNumber.WARN,
            severity_text="WARN",
            body={"nested": [1, "two", 3.0, None]},
            attributes={"list": ["a", "b"], "bytes": b"\x00\x01", "negative": -5},
            event_name="tracelab.event",
        )
    )


def assert_same(batch: list) -> None:
    ours = ExportLogsServiceRequest()
    ours.ParseFromString(otlp_log_encoding.encode_logs(batch))
    assert ours == stock_encode(batch)


def test_what_the_services_log_encodes_as_the_stock_encoder_does():
    provider, exporter = provider_with(telemetry.build_resource("auth", "1.0", "test"))
    batch = records_of(provider, exporter, through_logging)
    assert len(batch) == 4 and batch[0].log_record.trace_id
    assert_same(batch)


def test_edge_cases_encode_as_the_stock_encoder_does():
    provider, exporter = provider_with(Resource({"service.name": "svc"}, "https://x/1.0"))
    assert_same(records_of(provider, exporter, directly))


def test_records_of_two_resources_and_dropped_attributes():
    first, first_exported = provider_with(Resource({"service.name": "a"}))
    second, second_exported = provider_with(
        Resource({"service.name": "b"}), LogRecordLimits(max_attributes=1)
    )
    batch = records_of(first, first_exported, directly)
    with pytest.warns(Warning, match="attributes were dropped"):
        batch += records_of(second, second_exported, directly)
    batch += records_of(first, first_exported, through_logging)
    assert any(record.dropped_attributes for record in batch)
    assert_same(batch)


def test_an_attribute_that_cannot_be_encoded_is_left_out_as_by_the_stock_encoder(caplog):
    provider, exporter = provider_with(Resource({"service.name": "svc"}))

    def odd(provider: LoggerProvider) -> None:
        record = LogRecord(body="x", attributes={"fine": 1})
        # Past the SDK's own attribute checks, as a custom processor might leave it.
        record.attributes = {"fine": 1, "too_big": 1 << 70}
        provider.get_logger("odd").emit(record)

    batch = records_of(provider, exporter, odd)
    ours = ExportLogsServiceRequest()
    ours.ParseFromString(otlp_log_encoding.encode_logs(batch))
    (record,) = ours.resource_logs[0].scope_logs[0].log_records
    assert [kv.key for kv in record.attributes] == ["fine"]


def test_the_exporter_is_the_stock_one_with_the_fast_body(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", raising=False)
    exporter = log_export.build_exporter()
    try:
        assert isinstance(exporter, otlp_log_encoding.FastOTLPLogExporter)
        assert isinstance(exporter, OTLPLogExporter)
    finally:
        exporter.shutdown()


@pytest.mark.parametrize("name", ["otlp", "otlp_proto_http", "tracelab"])
def test_otel_logs_exporter_selects_the_exporter_by_entry_point(monkeypatch, name):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", name)
    exporter = log_export.build_exporter()
    try:
        fast = isinstance(exporter, otlp_log_encoding.FastOTLPLogExporter)
        assert fast is (name == "tracelab")
        assert isinstance(exporter, OTLPLogExporter)
    finally:
        exporter.shutdown()
