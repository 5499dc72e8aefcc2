"""Span-tree assertions shared by the db and auth unit tests."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode


def children(all_spans: Iterable[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    """The direct children of ``parent``, in start order."""
    found = [
        s for s in all_spans if s.parent is not None and s.parent.span_id == parent.context.span_id
    ]
    return sorted(found, key=lambda s: s.start_time or 0)


def server_span(all_spans: Iterable[ReadableSpan], name: str) -> ReadableSpan:
    """The one SERVER span called ``name``."""
    found = [s for s in all_spans if s.kind is SpanKind.SERVER and s.name == name]
    assert len(found) == 1, f"expected one SERVER span {name!r}, got {[s.name for s in found]}"
    return found[0]


def assert_http_server(span: ReadableSpan, method: str, route: str, status: int) -> None:
    """``span`` carries the stable HTTP server attributes, and a 4xx leaves it UNSET."""
    assert span.kind is SpanKind.SERVER
    assert span.attributes["http.request.method"] == method
    assert span.attributes["http.route"] == route
    assert span.attributes["http.response.status_code"] == status
    expected = StatusCode.ERROR if status >= 500 else StatusCode.UNSET
    assert span.status.status_code is expected


def assert_no_secret(all_spans: Iterable[ReadableSpan], *secrets: str) -> None:
    """No span name, attribute or event attribute contains one of ``secrets``."""
    for span in all_spans:
        texts = [span.name, *(str(v) for v in span.attributes.values())]
        for event in span.events:
            texts += [event.name, *(str(v) for v in event.attributes.values())]
        for secret in secrets:
            leaked = [text for text in texts if secret in text]
            assert not leaked, f"a secret leaked into span {span.name!r}"
