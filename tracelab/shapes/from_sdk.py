"""Convert OpenTelemetry SDK ``ReadableSpan`` objects (in-memory exporter) to a :class:`Trace`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from tracelab.shapes.model import Span, SpanEvent, SpanLink, Trace


def _plain(value: Any) -> Any:
    # The SDK stores sequence attributes as tuples; the other converters give lists.
    return list(value) if isinstance(value, tuple) else value


def _attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {str(key): _plain(value) for key, value in (attributes or {}).items()}


def span_from_sdk(span: ReadableSpan) -> Span:
    """One finished (or still running) SDK span."""
    context = span.context
    if context is None:
        raise ValueError(f"span {span.name!r} has no span context")
    parent = span.parent
    resource = _attributes(span.resource.attributes if span.resource else None)
    start_ns = span.start_time or 0
    scope = span.instrumentation_scope
    return Span(
        trace_id=format(context.trace_id, "032x"),
        span_id=format(context.span_id, "016x"),
        parent_span_id=format(parent.span_id, "016x") if parent is not None else None,
        service=str(resource.get("service.name", "")),
        name=span.name,
        kind=span.kind.name.lower(),
        status=span.status.status_code.name.lower(),
        status_message=span.status.description or "",
        start_ns=start_ns,
        end_ns=span.end_time if span.end_time is not None else start_ns,
        attributes=_attributes(span.attributes),
        events=tuple(
            SpanEvent(event.name, event.timestamp, _attributes(event.attributes))
            for event in span.events
        ),
        links=tuple(
            SpanLink(
                format(link.context.trace_id, "032x"),
                format(link.context.span_id, "016x"),
                _attributes(link.attributes),
            )
            for link in span.links
        ),
        scope=scope.name if scope is not None else "",
        resource=resource,
        trace_state=context.trace_state.to_header(),
    )


def trace_from_sdk(spans: Iterable[ReadableSpan]) -> Trace:
    """A :class:`Trace` of SDK spans, e.g. ``exporter.get_finished_spans()``."""
    return Trace(span_from_sdk(span) for span in spans)
