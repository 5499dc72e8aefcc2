"""services.common.exporters: OTEL_TRACES_EXPORTER / OTEL_LOGS_EXPORTER by entry point name."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk._configuration import _import_exporters
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from services.common import exporters
from services.common.config import ConfigError
from services.common.otlp_encoding import FastOTLPSpanExporter
from services.common.otlp_log_encoding import FastOTLPLogExporter

HTTP = {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
GRPC = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}


@pytest.mark.parametrize(
    ("environ", "spans", "logs"),
    [
        ({}, "tracelab", "tracelab"),
        (HTTP, "tracelab", "tracelab"),
        (GRPC, "otlp_proto_grpc", "otlp_proto_grpc"),
        ({**HTTP, "OTEL_TRACES_EXPORTER": "otlp"}, "otlp_proto_http", "tracelab"),
        ({**GRPC, "OTEL_TRACES_EXPORTER": "otlp"}, "otlp_proto_grpc", "otlp_proto_grpc"),
        ({**HTTP, "OTEL_LOGS_EXPORTER": "none"}, "tracelab", "none"),
        (
            {
                **HTTP,
                "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "grpc",
                "OTEL_TRACES_EXPORTER": "Tracelab",
            },
            "tracelab",
            "otlp_proto_grpc",
        ),
        (
            {"OTEL_TRACES_EXPORTER": "console", "OTEL_LOGS_EXPORTER": "otlp_proto_http"},
            "console",
            "otlp_proto_http",
        ),
    ],
)
def test_names_resolve_as_the_protocol_says(environ, spans, logs):
    assert exporters.exporter_name(exporters.TRACES, environ) == spans
    assert exporters.exporter_name(exporters.LOGS, environ) == logs


@pytest.mark.parametrize(
    ("signal", "name", "cls"),
    [
        (exporters.TRACES, "tracelab", FastOTLPSpanExporter),
        (exporters.TRACES, "otlp_proto_http", HttpSpans),
        (exporters.TRACES, "otlp_proto_grpc", GrpcSpans),
        (exporters.TRACES, "console", ConsoleSpanExporter),
        (exporters.LOGS, "tracelab", FastOTLPLogExporter),
        (exporters.LOGS, "otlp_proto_http", HttpLogs),
        (exporters.LOGS, "otlp_proto_grpc", GrpcLogs),
    ],
)
def test_each_name_builds_its_entry_points_exporter(signal, name, cls):
    environ = GRPC if name == "otlp_proto_grpc" else HTTP
    exporter = exporters.build(signal, {**environ, signal.variable: name})
    try:
        assert type(exporter) is cls
    finally:
        exporter.shutdown()


def test_the_sdks_configurator_finds_the_same_exporters():
    """What opentelemetry-instrument loads for the names (the SDK's own resolver)."""
    spans, _, logs = _import_exporters(["tracelab", "otlp_proto_http"], [], ["tracelab"])
    assert spans == {"tracelab": FastOTLPSpanExporter, "otlp_proto_http": HttpSpans}
    assert logs == {"tracelab": FastOTLPLogExporter}


def test_none_builds_nothing():
    assert exporters.build(exporters.LOGS, {"OTEL_LOGS_EXPORTER": "none"}) is None


@pytest.mark.parametrize(
    ("environ", "match"),
    [
        ({"OTEL_TRACES_EXPORTER": "carrier-pigeon"}, "tracelab"),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, "one exporter"),
        ({**GRPC, "OTEL_TRACES_EXPORTER": "tracelab"}, "http/protobuf"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon", "OTEL_TRACES_EXPORTER": "otlp"}, "grpc"),
    ],
)
def test_what_cannot_be_built_is_refused_with_the_choices(environ, match):
    with pytest.raises(ConfigError, match=match):
        exporters.build(exporters.TRACES, environ)
