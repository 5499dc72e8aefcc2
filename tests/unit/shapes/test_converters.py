"""OTLP JSON from Jaeger (hex ids) and Tempo (base64 ids) become the same backend-neutral spans."""

from __future__ import annotations

import pytest

from tests.unit.shapes import samples
from tracelab.shapes.from_otlp import any_value, otlp_document, trace_from_otlp
from tracelab.shapes.model import Trace


def _by_id(trace: Trace):
    return {span.span_id: span for span in trace.spans}


@pytest.fixture(params=["jaeger_v3_otlp_hex", "tempo_v2_otlp_base64"])
def trace(request) -> Trace:
    if request.param == "jaeger_v3_otlp_hex":
        return trace_from_otlp(samples.otlp_hex())
    return trace_from_otlp(samples.tempo_v2())


def test_every_format_gives_the_documented_spans(trace):
    spans = _by_id(trace)
    assert set(spans) == {samples.ROOT_ID, samples.CLIENT_ID, samples.VERIFY_ID}
    assert trace.trace_id == samples.TRACE_ID

    root = spans[samples.ROOT_ID]
    assert (root.service, root.name, root.kind, root.status) == (
        "frontend",
        "GET /api/dashboard",
        "server",
        "unset",
    )
    assert root.parent_span_id is None
    assert root.attributes == {
        "http.request.method": "GET",
        "http.route": "/api/dashboard",
        "http.response.status_code": 401,
    }
    assert [(link.trace_id, link.span_id) for link in root.links] == [
        (samples.CALLER_TRACE, samples.CALLER_SPAN)
    ]
    assert (root.start_ns, root.end_ns, root.duration_ms) == (
        samples.START_NS,
        samples.START_NS + 25_000_000,
        25.0,
    )
    assert root.scope == "opentelemetry.instrumentation.flask"
    assert root.resource["service.version"] == "0.1.0"

    client = spans[samples.CLIENT_ID]
    assert (client.kind, client.status, client.parent_span_id) == ("client", "error", root.span_id)

    verify = spans[samples.VERIFY_ID]
    assert (verify.service, verify.kind, verify.status) == ("auth", "internal", "error")
    assert verify.status_message == "InvalidTokenError: bad token"
    assert verify.attributes == {"token.expired": False, "auth.clock_skew_s": 0.5}
    [event] = verify.events
    assert event.name == "exception"
    assert event.timestamp_ns == samples.START_NS + 3_000_000
    assert event.attributes == {"exception.type": "InvalidTokenError", "exception.escaped": False}


def test_both_formats_agree_span_for_span():
    jaeger_v3 = trace_from_otlp(samples.otlp_hex()).spans
    tempo = trace_from_otlp(samples.tempo_v2()).spans
    assert jaeger_v3 == tempo


@pytest.mark.parametrize("answer", [samples.otlp_hex, samples.tempo_v2], ids=["jaeger", "tempo"])
def test_download_document_is_plain_otlp_json_with_hex_ids(answer):
    document = otlp_document(answer())
    assert set(document) == {"resourceSpans"}
    spans = [
        span
        for resource in document["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]
    assert {span["traceId"] for span in spans} == {samples.TRACE_ID}
    assert {span["spanId"] for span in spans} == {
        samples.ROOT_ID,
        samples.CLIENT_ID,
        samples.VERIFY_ID,
    }
    [root] = [span for span in spans if span["spanId"] == samples.ROOT_ID]
    assert root["links"][0]["traceId"] == samples.CALLER_TRACE
    # The document reads back as the same trace.
    assert trace_from_otlp(document).spans == trace_from_otlp(answer()).spans


def test_trace_helpers_on_converted_trace(trace):
    [root] = trace.roots()
    assert root.span_id == samples.ROOT_ID
    assert [s.span_id for s in trace.children_of(root)] == [samples.CLIENT_ID]
    assert {k: len(v) for k, v in trace.by_service().items()} == {"frontend": 2, "auth": 1}
    assert trace.duration_ms == 25.0


def test_tempo_v1_batches_envelope_and_missing_status():
    document = samples.tempo_v2()["trace"]
    trace = trace_from_otlp({"batches": document["resourceSpans"]})
    assert len(trace) == 3
    assert _by_id(trace)[samples.ROOT_ID].status == "unset"


def test_otlp_kinds_and_status_codes_in_every_spelling():
    payload = samples.otlp_hex()
    span = payload["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    for kind, expected in [
        (5, "consumer"),
        ("4", "producer"),
        ("SPAN_KIND_CLIENT", "client"),
        ("SPAN_KIND_UNSPECIFIED", "internal"),
        (None, "internal"),
    ]:
        span["kind"] = kind
        span["status"] = {"code": "STATUS_CODE_OK"}
        converted = _by_id(trace_from_otlp(payload))[samples.ROOT_ID]
        assert (converted.kind, converted.status) == (expected, "ok")


def test_any_value_forms():
    assert any_value({"stringValue": "x"}) == "x"
    assert any_value({"intValue": "9007199254740993"}) == 9007199254740993
    assert any_value({"boolValue": True}) is True
    assert any_value({"doubleValue": 1.5}) == 1.5
    assert any_value({"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "2"}]}}) == [
        "a",
        2,
    ]
    assert any_value(
        {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": False}}]}}
    ) == {"k": False}
    assert any_value({"bytesValue": "AAE="}) == "0001"
    assert any_value({}) is None


def test_empty_answers_give_empty_traces():
    assert len(trace_from_otlp({"trace": {}})) == 0
    assert len(trace_from_otlp({"result": {"resourceSpans": []}})) == 0
