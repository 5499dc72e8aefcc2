"""ReadableSpans from a real SDK TracerProvider (a local instance, never the global one)."""

from __future__ import annotations

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from tracelab.shapes.from_otlp import trace_from_otlp
from tracelab.shapes.from_sdk import trace_from_sdk
from tracelab.shapes.matcher import match
from tracelab.shapes.shape import load_shape_text

CALLER = SpanContext(
    trace_id=0x0AF7651916CD43DD8448EB211C80319C,
    span_id=0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(1),
)


class InvalidTokenError(Exception):
    pass


@pytest.fixture
def finished_spans():
    """Spans of one small auth request, recorded by a local provider."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "auth"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("services.auth")
    with tracer.start_as_current_span(
        "POST /verify",
        kind=SpanKind.SERVER,
        attributes={"http.route": "/verify", "http.response.status_code": 401},
        links=[Link(CALLER, {"link.reason": "untrusted edge"})],
    ):
        with pytest.raises(InvalidTokenError), tracer.start_as_current_span("auth.token_verify"):
            raise InvalidTokenError("bad token")
        with tracer.start_as_current_span("POST", kind=SpanKind.CLIENT) as client:
            client.set_attribute("net.peer.ports", [8084, 8085])
            client.set_status(Status(StatusCode.ERROR, "downstream 401"))
    yield exporter.get_finished_spans()
    provider.shutdown()


def test_sdk_spans_convert_with_tree_kinds_status_events_links(finished_spans):
    trace = trace_from_sdk(finished_spans)
    assert len(trace) == 3 and len(trace.trace_ids) == 1
    [root] = trace.roots()
    assert (root.service, root.name, root.kind, root.status) == (
        "auth",
        "POST /verify",
        "server",
        "unset",
    )
    assert root.attributes == {"http.route": "/verify", "http.response.status_code": 401}
    assert [(link.trace_id, link.span_id, dict(link.attributes)) for link in root.links] == [
        ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", {"link.reason": "untrusted edge"})
    ]
    verify, client = trace.children_of(root)
    assert (verify.name, verify.kind, verify.status) == ("auth.token_verify", "internal", "error")
    assert "InvalidTokenError" in verify.status_message
    assert verify.event_names() == ["exception"]
    assert verify.events[0].attributes["exception.type"].endswith("InvalidTokenError")
    assert verify.scope == "services.auth"
    assert (client.kind, client.status, client.status_message) == (
        "client",
        "error",
        "downstream 401",
    )
    assert client.attributes["net.peer.ports"] == [8084, 8085]
    assert client.start_ns >= verify.end_ns


def test_sdk_trace_matches_a_shape(finished_spans):
    shape = load_shape_text(
        """
        root:
          service: auth
          name: POST /verify
          kind: server
          status: unset
          attributes: {http.response.status_code: 401}
          ordered: true
          children:
            - name: auth.token_verify
              status: error
              events: [{name: exception, attributes: {exception.message: bad token}}]
            - {name: POST, kind: client, status: error}
        """
    )
    result = match(shape, trace_from_sdk(finished_spans))
    assert result.ok, result.report()


def test_otlp_json_of_the_same_spans_converts_to_the_same_trace(finished_spans):
    # protobuf's JSON mapping of an OTLP export request: base64 ids, enum names,
    # 64-bit integers as strings -- the form Tempo answers with.
    document = MessageToDict(encode_spans(finished_spans))
    first = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert first["traceId"].endswith("==") and isinstance(first["startTimeUnixNano"], str)
    from_json = trace_from_otlp({"trace": document})
    assert from_json.spans == trace_from_sdk(finished_spans).spans
