"""``parentbased_probability``: consistent head sampling that records ``ot=th`` in tracestate."""

from __future__ import annotations

import math
import random

import pytest
from opentelemetry.propagators.textmap import DefaultGetter, DefaultSetter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from services.common.sampling import (
    PROBABILITY_ATTRIBUTE,
    configured_probability,
    parentbased_probability,
    sampler_from_entry_point,
)
from services.common.telemetry import build_resource
from tracelab.analysis.service_map import threshold_probability


class SeededIds(IdGenerator):
    """Random ids from a seed, so the number of sampled traces is the same every run."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def generate_span_id(self) -> int:
        return self._random.getrandbits(64)

    def generate_trace_id(self) -> int:
        return self._random.getrandbits(128)


def _provider(ratio: str, seed: int = 7) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        sampler=parentbased_probability(ratio),
        id_generator=SeededIds(seed),
        resource=Resource({"service.name": "probe"}),
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_a_tenth_of_the_traces_are_kept_within_their_binomial_error():
    provider, exporter = _provider("0.1")
    tracer = provider.get_tracer("t")
    roots = 5000
    for _ in range(roots):
        with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
            pass
    spans = exporter.get_finished_spans()
    kept = sum(1 for s in spans if s.name == "root")
    sigma = math.sqrt(roots * 0.1 * 0.9)
    assert abs(kept - roots * 0.1) < 4 * sigma
    # Whole traces: every kept root has its child, and no child is kept alone.
    assert sum(1 for s in spans if s.name == "child") == kept


def test_every_kept_span_says_its_probability_in_tracestate():
    provider, exporter = _provider("0.1")
    tracer = provider.get_tracer("t")
    for _ in range(300):
        with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
            pass
    spans = exporter.get_finished_spans()
    assert spans
    states = {s.context.trace_state.to_header() for s in spans}
    assert states == {"ot=th:e6666666666666"}
    assert threshold_probability(next(iter(states))) == pytest.approx(0.1)


def test_attributes_given_at_span_start_are_kept():
    provider, exporter = _provider("1")
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("GET", attributes={"url.full": "http://x/y", "n": 3}):
        pass
    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes) == {"url.full": "http://x/y", "n": 3}


def test_a_remote_child_follows_the_callers_decision_and_threshold():
    caller, caller_spans = _provider("0.5", seed=1)
    callee, callee_spans = _provider("0.5", seed=2)
    propagator = TraceContextTextMapPropagator()
    outcomes = []
    for _ in range(200):
        carrier: dict[str, str] = {}
        with caller.get_tracer("c").start_as_current_span("client") as span:
            propagator.inject(carrier, setter=DefaultSetter())
            sampled = span.get_span_context().trace_flags.sampled
        context = propagator.extract(carrier, getter=DefaultGetter())
        with callee.get_tracer("s").start_as_current_span("server", context=context) as served:
            outcomes.append((sampled, served.get_span_context().trace_flags.sampled))
    assert all(a == b for a, b in outcomes)
    assert 0 < sum(a for a, _ in outcomes) < len(outcomes)
    served = callee_spans.get_finished_spans()
    assert len(served) == len(caller_spans.get_finished_spans())
    assert {s.context.trace_state.to_header() for s in served} == {"ot=th:8"}


def test_the_entry_point_builds_it_from_the_standard_variables():
    sampler = sampler_from_entry_point(
        {"OTEL_TRACES_SAMPLER": "parentbased_probability", "OTEL_TRACES_SAMPLER_ARG": "0.25"}
    )
    assert sampler is not None
    assert "ratio=0.25" in sampler.get_description()


@pytest.mark.parametrize("argument", ["2", "-0.1", "lots"])
def test_a_ratio_outside_zero_to_one_samples_everything(argument, caplog):
    assert "ratio=1.0" in parentbased_probability(argument).get_description()
    assert "not a ratio" in caplog.text


@pytest.mark.parametrize(
    ("sampler", "argument", "probability"),
    [
        (None, None, 1.0),
        ("always_on", "", 1.0),
        ("parentbased_always_off", None, 0.0),
        ("parentbased_traceidratio", "0.1", 0.1),
        ("traceidratio", "", 1.0),
        ("parentbased_probability", "0.05", 0.05),
        ("parentbased_traceidratio", "oops", 1.0),
        ("parentbased_traceidratio", "7", 1.0),
        ("parentbased_ratelimiting", "5", None),
    ],
)
def test_configured_probability(sampler, argument, probability):
    assert configured_probability(sampler, argument) == probability


def test_the_resource_says_what_the_service_samples_with(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.2")
    assert build_resource("svc", "1", "test").attributes[PROBABILITY_ATTRIBUTE] == 0.2
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_ratelimiting")
    assert PROBABILITY_ATTRIBUTE not in build_resource("svc", "1", "test").attributes
