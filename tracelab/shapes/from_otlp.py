"""Convert OTLP JSON traces to a :class:`Trace`.

Accepted envelopes: Jaeger's ``/api/v3/traces/{id}`` (``{"result":
{"resourceSpans": [...]}}``), Tempo's ``/api/v2/traces/{id}`` (``{"trace":
{"resourceSpans": [...]}}``), Tempo's v1 ``{"batches": [...]}`` and a bare
``{"resourceSpans": [...]}`` (an OTLP/HTTP JSON export request).

Ids may be hex (Jaeger) or base64 (Tempo); kinds and status codes may be
enum names (``SPAN_KIND_SERVER``) or numbers; attribute values are AnyValue
objects whose ``intValue`` is a string; times are Unix nanoseconds, usually
as strings.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from tracelab.shapes.ids import any_id
from tracelab.shapes.model import KINDS, Span, SpanEvent, SpanLink, Trace

_KIND_BY_NUMBER = {
    0: "internal",
    1: "internal",
    2: "server",
    3: "client",
    4: "producer",
    5: "consumer",
}
_STATUS_BY_NUMBER = {0: "unset", 1: "ok", 2: "error"}


def any_value(value: Mapping[str, Any] | None) -> Any:
    """The Python value of an OTLP ``AnyValue`` object."""
    if not value:
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        flag = value["boolValue"]
        return flag if isinstance(flag, bool) else str(flag).lower() == "true"
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [any_value(item) for item in (value["arrayValue"] or {}).get("values") or ()]
    if "kvlistValue" in value:
        return key_values((value["kvlistValue"] or {}).get("values"))
    if "bytesValue" in value:
        try:
            return base64.b64decode(value["bytesValue"]).hex()
        except (binascii.Error, ValueError):
            return value["bytesValue"]
    return None


def key_values(items: Any) -> dict[str, Any]:
    """An OTLP ``KeyValue`` list as a dict."""
    return {str(item["key"]): any_value(item.get("value")) for item in items or () if "key" in item}


def _enum(value: Any, by_number: Mapping[int, str], prefix: str, allowed: tuple[str, ...]) -> str:
    if value is None or value == "":
        return by_number[0]
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return by_number.get(int(value), by_number[0])
    word = str(value).lower().removeprefix(prefix)
    return word if word in allowed else by_number[0]


def _kind(value: Any) -> str:
    return _enum(value, _KIND_BY_NUMBER, "span_kind_", KINDS)


def _status(status: Mapping[str, Any] | None) -> tuple[str, str]:
    status = status or {}
    code = _enum(status.get("code"), _STATUS_BY_NUMBER, "status_code_", ("unset", "ok", "error"))
    return code, str(status.get("message") or "")


def _nanos(value: Any) -> int:
    return int(value or 0)


def span_from_otlp(
    raw: Mapping[str, Any],
    service: str,
    scope: str = "",
    resource: Mapping[str, Any] | None = None,
) -> Span:
    """One OTLP JSON span of a resource whose ``service.name`` is ``service``."""
    trace_id = any_id(raw.get("traceId"), "trace")
    span_id = any_id(raw.get("spanId"), "span")
    if trace_id is None or span_id is None:
        raise ValueError(f"OTLP span without traceId/spanId: {raw.get('name')!r}")
    status, message = _status(raw.get("status"))
    events = tuple(
        SpanEvent(
            str(event.get("name", "")),
            _nanos(event.get("timeUnixNano")),
            key_values(event.get("attributes")),
        )
        for event in raw.get("events") or ()
    )
    links = tuple(
        SpanLink(
            any_id(link.get("traceId"), "trace") or "",
            any_id(link.get("spanId"), "span") or "",
            key_values(link.get("attributes")),
        )
        for link in raw.get("links") or ()
    )
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=any_id(raw.get("parentSpanId"), "span"),
        service=service,
        name=str(raw.get("name", "")),
        kind=_kind(raw.get("kind")),
        status=status,
        status_message=message,
        start_ns=_nanos(raw.get("startTimeUnixNano")),
        end_ns=_nanos(raw.get("endTimeUnixNano")),
        attributes=key_values(raw.get("attributes")),
        events=events,
        links=links,
        scope=scope,
        resource=resource or {},
        trace_state=str(raw.get("traceState") or ""),
    )


def _resource_spans(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    for envelope in ("result", "trace"):
        inner = payload.get(envelope)
        if isinstance(inner, Mapping):
            payload = inner
            break
    return list(payload.get("resourceSpans") or payload.get("batches") or ())


def _hex_ids(raw: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    fixed = dict(raw)
    for key, what in zip(keys, ("trace", "span", "span"), strict=False):
        if fixed.get(key):
            fixed[key] = any_id(fixed[key], what) or ""
    return fixed


def otlp_document(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Any accepted envelope as a plain OTLP/JSON ``TracesData`` with hex ids.

    This is what a person downloads: ``{"resourceSpans": [...]}`` exactly as
    the OTLP/JSON encoding specifies (ids as hex, as Jaeger writes them;
    Tempo's base64 ids are converted; Tempo's v1 ``batches`` renamed).
    """
    resource_spans = []
    for entry in _resource_spans(payload):
        scopes = entry.get("scopeSpans") or entry.get("instrumentationLibrarySpans") or ()
        fixed_scopes = []
        for scope_spans in scopes:
            spans = []
            for raw in scope_spans.get("spans") or ():
                span = _hex_ids(raw, ("traceId", "spanId", "parentSpanId"))
                span["links"] = [
                    _hex_ids(link, ("traceId", "spanId")) for link in raw.get("links") or ()
                ]
                spans.append(span)
            scope = scope_spans.get("scope") or scope_spans.get("instrumentationLibrary") or {}
            rest = {k: v for k, v in scope_spans.items() if k != "instrumentationLibrary"}
            fixed_scopes.append({**rest, "scope": scope, "spans": spans})
        fixed = {k: v for k, v in entry.items() if k != "instrumentationLibrarySpans"}
        resource_spans.append({**fixed, "scopeSpans": fixed_scopes})
    return {"resourceSpans": resource_spans}


def _spans_of(payload: Mapping[str, Any]) -> list[Span]:
    spans = []
    for resource_spans in _resource_spans(payload):
        resource = key_values((resource_spans.get("resource") or {}).get("attributes"))
        service = str(resource.get("service.name", ""))
        scopes = (
            resource_spans.get("scopeSpans")
            or resource_spans.get("instrumentationLibrarySpans")
            or ()
        )
        for scope_spans in scopes:
            scope_info = scope_spans.get("scope") or scope_spans.get("instrumentationLibrary") or {}
            scope = str(scope_info.get("name", ""))
            for raw in scope_spans.get("spans") or ():
                spans.append(span_from_otlp(raw, service, scope, resource))
    return spans


def trace_from_otlp(payload: Mapping[str, Any]) -> Trace:
    """Every span of an OTLP JSON document (see the module docstring for envelopes)."""
    return Trace(_spans_of(payload))


def traces_from_otlp(payload: Mapping[str, Any]) -> list[Trace]:
    """One :class:`Trace` per trace id of a document holding several (a search answer)."""
    groups: dict[str, list[Span]] = {}
    for span in _spans_of(payload):
        groups.setdefault(span.trace_id, []).append(span)
    return [Trace(spans) for spans in groups.values()]
