"""Convert Jaeger's query API v1 JSON (``GET /api/traces/{id}``) to a :class:`Trace`.

The v1 model is Jaeger's own: the parent is a ``CHILD_OF`` reference, the
service is in ``processes[processID]``, kind and status are tags added by
the OTLP-to-Jaeger translation (``span.kind``, ``otel.status_code``,
``otel.status_description``, ``error``), events are ``logs`` whose ``event``
field is the name, and times are Unix microseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracelab.shapes.ids import hex_id
from tracelab.shapes.model import KINDS, Span, SpanEvent, SpanLink, Trace

# Tags the translation adds that are span fields here, not attributes.
TRANSLATION_TAGS = frozenset(
    {
        "span.kind",
        "otel.status_code",
        "otel.status_description",
        "error",
        "otel.scope.name",
        "otel.scope.version",
        "otel.library.name",
        "otel.library.version",
        "internal.span.format",
        "w3c.tracestate",
    }
)


def _tag_value(tag: Mapping[str, Any]) -> Any:
    value = tag.get("value")
    kind = str(tag.get("type", "")).lower()
    if kind == "bool" and isinstance(value, str):
        return value.lower() == "true"
    if kind == "int64" and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    if kind == "float64" and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _tags(tags: Any) -> dict[str, Any]:
    return {str(tag["key"]): _tag_value(tag) for tag in tags or () if "key" in tag}


def _status(tags: Mapping[str, Any]) -> tuple[str, str]:
    code = str(tags.get("otel.status_code", "")).upper()
    message = str(tags.get("otel.status_description", "") or "")
    if code == "ERROR" or (not code and tags.get("error") in (True, "true")):
        return "error", message
    if code == "OK":
        return "ok", message
    return "unset", message


def _kind(tags: Mapping[str, Any]) -> str:
    kind = str(tags.get("span.kind", "internal")).lower()
    return kind if kind in KINDS else "internal"


def _events(logs: Any) -> tuple[SpanEvent, ...]:
    events = []
    for log in logs or ():
        fields = _tags(log.get("fields"))
        name = str(fields.pop("event", ""))
        events.append(SpanEvent(name, int(log.get("timestamp", 0)) * 1000, fields))
    return tuple(events)


def _parent_and_links(raw: Mapping[str, Any], trace_id: str) -> tuple[str | None, list[SpanLink]]:
    parent: str | None = None
    links: list[SpanLink] = []
    for ref in raw.get("references") or ():
        ref_trace = hex_id(ref.get("traceID"), "trace") or trace_id
        ref_span = hex_id(ref.get("spanID"), "span")
        if ref_span is None:
            continue
        is_parent = ref.get("refType", "CHILD_OF") == "CHILD_OF" and ref_trace == trace_id
        if is_parent and parent is None:
            parent = ref_span
        else:
            links.append(SpanLink(ref_trace, ref_span))
    if parent is None and raw.get("parentSpanID"):
        parent = hex_id(raw["parentSpanID"], "span")
    return parent, links


def span_from_jaeger(raw: Mapping[str, Any], processes: Mapping[str, Any]) -> Span:
    """One Jaeger v1 span; ``processes`` is the trace's ``processes`` map."""
    trace_id = hex_id(raw.get("traceID"), "trace")
    span_id = hex_id(raw.get("spanID"), "span")
    if trace_id is None or span_id is None:
        raise ValueError(f"Jaeger span without traceID/spanID: {raw.get('operationName')!r}")
    parent, links = _parent_and_links(raw, trace_id)
    process = raw.get("process") or processes.get(raw.get("processID", ""), {})
    all_tags = _tags(raw.get("tags"))
    status, message = _status(all_tags)
    start_ns = int(raw.get("startTime", 0)) * 1000
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        service=str(process.get("serviceName", "")),
        name=str(raw.get("operationName", "")),
        kind=_kind(all_tags),
        status=status,
        status_message=message,
        start_ns=start_ns,
        end_ns=start_ns + int(raw.get("duration", 0)) * 1000,
        attributes={k: v for k, v in all_tags.items() if k not in TRANSLATION_TAGS},
        events=_events(raw.get("logs")),
        links=tuple(links),
        scope=str(all_tags.get("otel.scope.name") or all_tags.get("otel.library.name") or ""),
        resource=_tags(process.get("tags")),
    )


def trace_from_jaeger(payload: Mapping[str, Any]) -> Trace:
    """Every span of a ``/api/traces/{id}`` answer (all entries of ``data``).

    Also accepts one trace object (``{"traceID", "spans", "processes"}``).
    """
    entries = payload.get("data") if "data" in payload else [payload]
    spans = []
    for entry in entries or ():
        processes = entry.get("processes") or {}
        spans.extend(span_from_jaeger(raw, processes) for raw in entry.get("spans") or ())
    return Trace(spans)
