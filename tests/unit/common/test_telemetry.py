from opentelemetry import baggage, propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HTTPSpanExporter,
)
from opentelemetry.sdk.trace import TracerProvider

from services.common import telemetry
from services.common.otlp_encoding import FastOTLPSpanExporter


def test_resource_has_the_service_identity(monkeypatch):
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=sre")
    resource = telemetry.build_resource("auth", "1.2.3", "workshop")
    attributes = dict(resource.attributes)
    assert attributes["service.name"] == "auth"
    assert attributes["service.version"] == "1.2.3"
    assert attributes["deployment.environment"] == "workshop"
    assert attributes["deployment.environment.name"] == "workshop"
    assert attributes["team"] == "sre"


def test_otel_service_name_wins(monkeypatch):
    monkeypatch.setenv("OTEL_SERVICE_NAME", "renamed")
    assert telemetry.build_resource("auth", "1", "x").attributes["service.name"] == "renamed"


def test_exporter_follows_the_protocol_variable(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    assert "grpc" in type(telemetry.build_exporter()).__module__
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    exporter = telemetry.build_exporter()
    assert isinstance(exporter, FastOTLPSpanExporter)
    assert isinstance(exporter, HTTPSpanExporter)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    assert type(telemetry.build_exporter()) is HTTPSpanExporter
    monkeypatch.delenv("OTEL_TRACES_EXPORTER")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
    try:
        telemetry.build_exporter()
    except ValueError as exc:
        assert "carrier-pigeon" in str(exc)
    else:
        raise AssertionError("an unknown protocol must be refused")


def test_init_installed_one_provider_and_is_idempotent():
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    again = telemetry.init("someone-else")
    assert again.provider is provider
    assert again.service_name == "tracelab-unit"


def test_propagators_are_tracecontext_and_baggage(spans):
    carrier: dict[str, str] = {}
    ctx = baggage.set_baggage("synthetic_request", "true")
    with telemetry.tracer("test").start_as_current_span("work", context=ctx) as span:
        propagate.inject(carrier, context=trace.set_span_in_context(span, ctx))
    assert carrier["traceparent"].startswith("00-")
    assert carrier["baggage"] == "synthetic_request=true"


def test_traceresponse_matches_the_active_span(spans):
    assert telemetry.traceresponse() is None
    with telemetry.tracer("test").start_as_current_span("work") as span:
        value = telemetry.traceresponse()
    context = span.get_span_context()
    assert value == f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    assert context.trace_flags.sampled


def test_stable_http_semconv_and_health_exclusion_are_defaults():
    import os

    assert os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] == "http"
    assert "/healthz" in os.environ["OTEL_PYTHON_EXCLUDED_URLS"]
