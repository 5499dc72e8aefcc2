"""Compact builders of synthetic traces for the matcher tests.

``node(...)`` describes a span and its children with times in milliseconds
relative to the trace start; ``build(root)`` turns the tree into a
:class:`Trace` with sequential span ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tracelab.shapes.model import Span, SpanEvent, Trace

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
T0 = 1_700_000_000_000_000_000  # Unix ns


@dataclass
class N:
    """A span to build: service, name, kind, times in ms, and children."""

    service: str
    name: str
    kind: str = "internal"
    start: float = 0.0
    end: float = 10.0
    status: str = "unset"
    message: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
    events: tuple[str | tuple[str, dict[str, Any]], ...] = ()  # names or (name, attributes)
    children: list[N] = field(default_factory=list)


def _event(spec: str | tuple[str, dict[str, Any]], at_ns: int) -> SpanEvent:
    name, attributes = (spec, {}) if isinstance(spec, str) else spec
    return SpanEvent(name, at_ns, dict(attributes))


def node(service: str, name: str, kind: str = "internal", start=0.0, end=10.0, **kw) -> N:
    """Shorthand for :class:`N`; ``children=[...]`` nests spans."""
    return N(service, name, kind, start, end, **kw)


def build(root: N, trace_id: str = TRACE_ID, parent: str | None = None) -> Trace:
    """The trace of the tree under ``root`` (``parent`` makes the root an orphan)."""
    spans: list[Span] = []
    counter = iter(range(1, 10_000))

    def emit(n: N, parent_id: str | None) -> None:
        span_id = f"{next(counter):016x}"
        spans.append(
            Span(
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=parent_id,
                service=n.service,
                name=n.name,
                kind=n.kind,
                status=n.status,
                status_message=n.message,
                start_ns=T0 + int(n.start * 1e6),
                end_ns=T0 + int(n.end * 1e6),
                attributes=dict(n.attrs),
                events=tuple(_event(e, T0 + int(n.start * 1e6)) for e in n.events),
            )
        )
        for child in n.children:
            emit(child, span_id)

    emit(root, parent)
    return Trace(spans)


def http_server(service: str, method: str, route: str, code: int = 200, **kw) -> N:
    """A server span following the stable HTTP semantic conventions."""
    attrs = {
        "http.request.method": method,
        "http.route": route,
        "http.response.status_code": code,
        **kw.pop("attrs", {}),
    }
    return node(service, f"{method} {route}", "server", attrs=attrs, **kw)


def http_client(service: str, method: str, url: str, code: int = 200, **kw) -> N:
    """A client span: named by the method only; a 4xx/5xx makes it an error."""
    attrs = {"http.request.method": method, "url.full": url, "http.response.status_code": code}
    attrs.update(kw.pop("attrs", {}))
    kw.setdefault("status", "error" if code >= 400 else "unset")
    return node(service, method, "client", attrs=attrs, **kw)


def sql(start=0.0, end=1.0) -> N:
    """A psycopg SQL span."""
    return node("db", "SELECT", "client", start, end, attrs={"db.system": "postgresql"})


def flat_span(
    sid: int,
    parent: int | None,
    service: str,
    name: str,
    kind: str,
    start_ms: float,
    end_ms: float,
    status: str = "unset",
    events: tuple[SpanEvent, ...] = (),
    *,
    trace_id: str = "a" * 32,
    resource: dict[str, Any] | None = None,
    trace_state: str = "",
    **attributes: Any,
) -> Span:
    """One span by number (``sid``, ``parent``), for the detector tests that place spans by hand."""
    return Span(
        trace_id=trace_id,
        span_id=f"{sid:016x}",
        parent_span_id=f"{parent:016x}" if parent else None,
        service=service,
        name=name,
        kind=kind,
        status=status,
        start_ns=int(start_ms * 1_000_000),
        end_ns=int(end_ms * 1_000_000),
        attributes=attributes,
        events=tuple(events),
        resource=resource or {},
        trace_state=trace_state,
    )
