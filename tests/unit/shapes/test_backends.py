"""Jaeger and Tempo clients against a real local HTTP server replaying recorded answers."""

from __future__ import annotations

import copy
import socket

import pytest

from tests.unit.shapes import samples
from tests.unit.shapes.fake_backend import serve
from tracelab.shapes.backends import (
    BackendError,
    JaegerClient,
    TempoClient,
    TraceNotFound,
    client_for,
)

JAEGER_PATH = f"/api/traces/{samples.TRACE_ID}"
TEMPO_PATH = f"/api/v2/traces/{samples.TRACE_ID}"


@pytest.fixture
def backend():
    with serve() as running:
        yield running


def _jaeger_without(*span_ids: str):
    """The Jaeger answer as an earlier fetch would have seen it: some batches still missing."""
    payload = copy.deepcopy(samples.jaeger_v1())
    entry = payload["data"][0]
    entry["spans"] = [s for s in entry["spans"] if s["spanID"] not in span_ids]
    return payload


def test_jaeger_get_trace(backend):
    backend.answer(JAEGER_PATH, (200, samples.jaeger_v1()))
    trace = JaegerClient(backend.url).get_trace(samples.TRACE_ID.upper())
    assert trace is not None
    assert trace.services == {"frontend", "auth"} and len(trace) == 3
    assert backend.hits(JAEGER_PATH) == 1


def test_tempo_get_trace_asks_for_json(backend):
    backend.answer(TEMPO_PATH, (200, samples.tempo_v2()))
    trace = TempoClient(backend.url).get_trace(samples.TRACE_ID)
    assert trace is not None and trace.trace_id == samples.TRACE_ID
    [(path, headers)] = backend.requests
    assert path == TEMPO_PATH and headers["Accept"] == "application/json"


@pytest.mark.parametrize("client_class", [JaegerClient, TempoClient])
def test_unknown_trace_is_none(backend, client_class):
    assert client_class(backend.url).get_trace("ab" * 16) is None


def test_empty_jaeger_answer_is_none(backend):
    backend.answer(JAEGER_PATH, (200, {"data": [], "errors": None}))
    assert JaegerClient(backend.url).get_trace(samples.TRACE_ID) is None


def test_server_error_is_a_backend_error(backend):
    backend.answer(JAEGER_PATH, (500, {"errors": [{"msg": "storage down"}]}))
    with pytest.raises(BackendError, match=r"answered 500.*storage down"):
        JaegerClient(backend.url).get_trace(samples.TRACE_ID)


def test_bad_trace_id_is_refused_before_any_request(backend):
    with pytest.raises(ValueError, match="not hex"):
        JaegerClient(backend.url).get_trace("not-a-trace-id")
    assert backend.requests == []


def test_wait_for_trace_waits_out_partial_batches(backend):
    backend.answer(
        JAEGER_PATH,
        (404, {"data": None}),
        (200, _jaeger_without(samples.VERIFY_ID, samples.CLIENT_ID)),
        (200, _jaeger_without(samples.VERIFY_ID)),
        (200, samples.jaeger_v1()),
    )
    trace = JaegerClient(backend.url).wait_for_trace(
        samples.TRACE_ID, services=("frontend", "auth"), timeout=10, interval=0.01
    )
    assert len(trace) == 3
    assert backend.hits(JAEGER_PATH) == 4


def test_wait_for_trace_min_spans(backend):
    backend.answer(TEMPO_PATH, (200, {"trace": {}}), (200, samples.tempo_v2()))
    trace = TempoClient(backend.url).wait_for_trace(samples.TRACE_ID, min_spans=3, interval=0.01)
    assert len(trace) == 3


def test_wait_for_trace_names_backend_id_and_what_it_saw(backend):
    backend.answer(JAEGER_PATH, (200, _jaeger_without(samples.VERIFY_ID)))
    client = JaegerClient(backend.url)
    with pytest.raises(TraceNotFound) as info:
        client.wait_for_trace(
            samples.TRACE_ID, services=("frontend", "auth", "db"), timeout=0.2, interval=0.05
        )
    message = str(info.value)
    assert f"jaeger ({backend.url})" in message
    assert samples.TRACE_ID in message
    assert "held 2 span(s) from frontend" in message
    assert "missing: auth, db" in message
    assert (
        info.value.backend == f"jaeger ({backend.url})" and info.value.trace_id == samples.TRACE_ID
    )


def test_wait_for_trace_that_never_appears(backend):
    with pytest.raises(TraceNotFound, match="never returned it"):
        TempoClient(backend.url).wait_for_trace(samples.TRACE_ID, timeout=0.1, interval=0.02)


def test_wait_for_trace_on_an_unreachable_backend_reports_the_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    client = JaegerClient(f"http://127.0.0.1:{port}", timeout=0.5)
    with pytest.raises(TraceNotFound, match=r"last error: jaeger: GET .* failed"):
        client.wait_for_trace(samples.TRACE_ID, timeout=0.1, interval=0.02)


def test_jaeger_services(backend):
    backend.answer("/api/services", (200, {"data": ["user", "auth", "jaeger"], "total": 3}))
    assert JaegerClient(backend.url).services() == ["auth", "jaeger", "user"]


def test_tempo_services_v2(backend):
    values = {
        "tagValues": [{"type": "string", "value": "gateway"}, {"type": "string", "value": "db"}]
    }
    backend.answer("/api/v2/search/tag/resource.service.name/values", (200, values))
    assert TempoClient(backend.url).services() == ["db", "gateway"]


def test_tempo_services_falls_back_to_v1(backend):
    backend.answer("/api/search/tag/service.name/values", (200, {"tagValues": ["user", "auth"]}))
    assert TempoClient(backend.url).services() == ["auth", "user"]
    assert backend.hits("/api/v2/search/tag/resource.service.name/values") == 1


def test_client_for():
    jaeger = client_for("jaeger")
    assert isinstance(jaeger, JaegerClient) and jaeger.base_url == "http://127.0.0.1:16686"
    tempo = client_for("Tempo", "http://tempo:3200/")
    assert isinstance(tempo, TempoClient) and tempo.base_url == "http://tempo:3200"
    with pytest.raises(ValueError, match="unknown backend 'zipkin'"):
        client_for("zipkin")
