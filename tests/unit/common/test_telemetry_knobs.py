"""The knobs tracelab bench-exact turns: disabled instrumentations, span sinks, flush on signal."""

from __future__ import annotations

import os
import signal
import time

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common import flask_support, telemetry
from services.common.config import ServiceSettings


def test_disabled_instrumentations_are_read_from_the_standard_variable():
    env = {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "flask, psycopg"}
    assert not telemetry.instrumentation_enabled("flask", env)
    assert not telemetry.instrumentation_enabled("psycopg", env)
    assert telemetry.instrumentation_enabled("requests", env)
    assert telemetry.instrumentation_enabled("flask", {})


def test_a_flask_app_is_not_instrumented_when_flask_is_disabled(monkeypatch):
    settings = ServiceSettings(name="unit", port=1)
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "flask")
    plain = flask_support.create_flask_app("plain", settings)
    monkeypatch.delenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS")
    traced = flask_support.create_flask_app("traced", settings)
    assert getattr(traced, "_is_instrumented_by_opentelemetry", False)
    assert not getattr(plain, "_is_instrumented_by_opentelemetry", False)


def test_span_sinks(monkeypatch):
    monkeypatch.setenv("TRACELAB_SPAN_SINK", "none")
    assert not telemetry.build_provider("unit")._active_span_processor._span_processors
    monkeypatch.setenv("TRACELAB_SPAN_SINK", "drop")
    exporter = telemetry.sink_exporter()
    assert isinstance(exporter, telemetry.SinkExporter) and exporter.encode is None
    monkeypatch.setenv("TRACELAB_SPAN_SINK", "encode")
    encoded = []
    sink = telemetry.SinkExporter(lambda spans: encoded.append(len(spans)) or b"")
    assert sink.export([object(), object()]) is not None and encoded == [2]
    assert telemetry.sink_exporter().encode is not None
    monkeypatch.setenv("TRACELAB_SPAN_SINK", "export")
    assert not isinstance(telemetry.sink_exporter(), telemetry.SinkExporter)
    monkeypatch.setenv("TRACELAB_SPAN_SINK", "bogus")
    with pytest.raises(ValueError):
        telemetry.span_sink()


def test_the_flush_signal_exports_what_the_batch_processor_holds(monkeypatch):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=3_600_000))
    state = telemetry.TelemetryState("unit", provider, os.getpid())
    monkeypatch.setattr(telemetry, "_state", state)
    monkeypatch.setenv("TRACELAB_FLUSH_SIGNAL", "SIGUSR2")
    previous = signal.getsignal(signal.SIGUSR2)
    try:
        telemetry._install_flush_signal()
        provider.get_tracer("unit").start_span("held").end()
        time.sleep(0.2)
        assert exporter.get_finished_spans() == ()
        os.kill(os.getpid(), signal.SIGUSR2)
        deadline = time.monotonic() + 10
        while not exporter.get_finished_spans() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [s.name for s in exporter.get_finished_spans()] == ["held"]
    finally:
        signal.signal(signal.SIGUSR2, previous)
        provider.shutdown()


def test_propagators_none_extracts_an_empty_context_not_none(monkeypatch):
    from opentelemetry import context, propagate

    previous = propagate.get_global_textmap()
    monkeypatch.setenv("OTEL_PROPAGATORS", "none")
    try:
        telemetry.set_propagators()
        carrier = {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
        extracted = propagate.extract(carrier)
        assert extracted is not None and extracted == context.Context()
        token = context.attach(extracted)
        context.detach(token)
        injected: dict[str, str] = {}
        propagate.inject(injected)
        assert injected == {}
    finally:
        propagate.set_global_textmap(previous)
