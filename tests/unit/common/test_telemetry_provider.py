"""telemetry.build_provider: the provider init installs, buildable on its own."""

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import DEFAULT_OFF, ParentBasedTraceIdRatio

from services.common import telemetry


def _provider(**kwargs) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = telemetry.build_provider(
        "svc", "9.9.9", "bench", span_processor=SimpleSpanProcessor(exporter), **kwargs
    )
    return provider, exporter


def test_build_provider_has_the_service_resource_and_processor(monkeypatch):
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    provider, exporter = _provider()
    with provider.get_tracer("t").start_as_current_span("work"):
        pass
    [span] = exporter.get_finished_spans()
    assert span.resource.attributes["service.name"] == "svc"
    assert span.resource.attributes["service.version"] == "9.9.9"
    assert span.resource.attributes["deployment.environment"] == "bench"
    provider.shutdown()


def test_build_provider_reads_the_sampler_from_the_environment(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    provider, _ = _provider()
    assert isinstance(provider.sampler, ParentBasedTraceIdRatio)
    assert "0.25" in provider.sampler.get_description()
    provider.shutdown()


def test_an_explicit_sampler_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    provider, exporter = _provider(sampler=DEFAULT_OFF)
    assert provider.sampler is DEFAULT_OFF
    with provider.get_tracer("t").start_as_current_span("dropped") as span:
        assert not span.is_recording()
    assert exporter.get_finished_spans() == ()
    provider.shutdown()


def test_resource_hash_is_computed_once_and_equals_the_plain_one(monkeypatch):
    from opentelemetry.sdk.resources import Resource

    resource = telemetry.build_resource("svc", "1.0", "bench")
    assert isinstance(resource, telemetry.HashOnceResource)
    plain = Resource(resource.attributes, resource.schema_url)
    assert resource == plain and plain == resource
    expected = hash(plain)
    assert hash(resource) == expected
    calls = []
    original = Resource.__hash__

    def counting(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(Resource, "__hash__", counting)
    fresh = telemetry.build_resource("svc", "1.0", "bench")
    assert {hash(fresh) for _ in range(100)} == {expected}
    assert len(calls) == 1
    with pytest.raises(TypeError):
        fresh.attributes["service.name"] = "changed"  # immutable: the cached hash stays right


def test_spans_of_one_provider_encode_under_one_resource():
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    provider, exporter = _provider()
    tracer = provider.get_tracer("t")
    for name in ("a", "b", "c"):
        with tracer.start_as_current_span(name):
            pass
    request = encode_spans(exporter.get_finished_spans())
    assert len(request.resource_spans) == 1
    [scope] = request.resource_spans[0].scope_spans
    assert [s.name for s in scope.spans] == ["a", "b", "c"]
    provider.shutdown()


def _processors(provider: TracerProvider) -> list[object]:
    return list(provider._active_span_processor._span_processors)


@pytest.mark.parametrize(("setting", "kind"), [("", "batch"), ("simple", "simple")])
def test_the_span_processor_follows_its_variable_and_is_on_the_resource(monkeypatch, setting, kind):
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    monkeypatch.setenv(telemetry.PROCESSOR_VAR, setting)
    provider = telemetry.build_provider("svc")
    [processor] = _processors(provider)
    assert type(processor) is (SimpleSpanProcessor if kind == "simple" else BatchSpanProcessor)
    assert provider.resource.attributes[telemetry.PROCESSOR_ATTRIBUTE] == kind
    provider.shutdown()


def test_an_unknown_span_processor_is_refused(monkeypatch):
    monkeypatch.setenv(telemetry.PROCESSOR_VAR, "eventually")
    with pytest.raises(ValueError, match="eventually"):
        telemetry.build_provider("svc")
