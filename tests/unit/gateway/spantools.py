"""Helpers shared by the gateway and user unit tests: send a request, read span trees."""

from __future__ import annotations

from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind


def children(all_spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    """The direct children of ``parent``, in start order."""
    parent_id = parent.context.span_id
    found = [s for s in all_spans if s.parent is not None and s.parent.span_id == parent_id]
    return sorted(found, key=lambda s: s.start_time)


def of_kind(all_spans: list[ReadableSpan], kind: SpanKind) -> list[ReadableSpan]:
    """The spans of ``kind``, in start order."""
    return sorted((s for s in all_spans if s.kind is kind), key=lambda s: s.start_time)


def trace_ids(all_spans: list[ReadableSpan]) -> set[str]:
    """The distinct hex trace ids among ``all_spans``."""
    return {format(s.context.trace_id, "032x") for s in all_spans}


def assert_traceresponse(response, server_span: ReadableSpan) -> None:
    """The response's ``traceresponse`` names the server span's trace and span."""
    header = response.headers.get("traceresponse")
    assert header, f"no traceresponse on {response.status}"
    version, trace_id, span_id, _flags = header.split("-")
    assert version == "00"
    assert trace_id == format(server_span.context.trace_id, "032x")
    assert span_id == format(server_span.context.span_id, "016x")


def assert_no_secret(all_spans: list[ReadableSpan], *secrets: str) -> None:
    """No attribute or event attribute of any span contains one of ``secrets``."""
    for span in all_spans:
        values = [str(v) for v in span.attributes.values()]
        values += [str(v) for event in span.events for v in event.attributes.values()]
        for secret in secrets:
            assert not any(secret in value for value in values), f"{secret!r} in {span.name}"


async def call(client, method: str, path: str, **kwargs):
    """Send a request without a client span of the test's own, so the service is the root.

    Returns the response (body already read) and its decoded JSON.
    """
    with suppress_http_instrumentation():
        response = await client.request(method, path, **kwargs)
        body = await response.json()
    return response, body
