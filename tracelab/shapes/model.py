"""A backend-neutral span model: what every converter produces and the matcher reads.

Ids are lowercase hex strings (32 characters for trace ids, 16 for span ids),
times are Unix nanoseconds, ``kind`` and ``status`` are lowercase words as in
the OpenTelemetry specification. Attribute values are plain Python values:
``str``, ``int``, ``float``, ``bool`` or lists of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("server", "client", "internal", "producer", "consumer")
STATUSES = ("unset", "ok", "error")


@dataclass(frozen=True)
class SpanEvent:
    """A span event (an OTLP event, a Jaeger log)."""

    name: str
    timestamp_ns: int
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class SpanLink:
    """A link from a span to another span context."""

    trace_id: str
    span_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Span:
    """One span, independent of the backend it was read from."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    service: str
    name: str
    kind: str = "internal"
    status: str = "unset"
    status_message: str = ""
    start_ns: int = 0
    end_ns: int = 0
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)
    events: tuple[SpanEvent, ...] = field(default=(), hash=False)
    links: tuple[SpanLink, ...] = field(default=(), hash=False)
    scope: str = ""
    resource: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # The W3C tracestate the span was recorded with (e.g. ``ot=th:...``, its sampling).
    trace_state: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"span kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.status not in STATUSES:
            raise ValueError(f"span status {self.status!r} is not one of {', '.join(STATUSES)}")

    @property
    def duration_ns(self) -> int:
        """End minus start, never negative."""
        return max(0, self.end_ns - self.start_ns)

    @property
    def duration_ms(self) -> float:
        """The duration in milliseconds."""
        return self.duration_ns / 1e6

    def event_names(self) -> list[str]:
        """The names of this span's events, in order."""
        return [event.name for event in self.events]

    def overlaps(self, other: Span) -> bool:
        """True when the two spans' time intervals intersect."""
        return self.start_ns < other.end_ns and other.start_ns < self.end_ns

    def summary(self) -> str:
        """A one-line description: service, name, kind, status."""
        status = self.status
        if self.status_message:
            status += f" ({self.status_message})"
        return f"{self.service} {self.name!r} [{self.kind}] {status}"


def span_key(span: Span) -> tuple[str, str]:
    """(trace id, span id): unique even in a mix of traces."""
    return (span.trace_id, span.span_id)


class Trace:
    """The spans of one trace (or of several, when built from an in-memory exporter)."""

    def __init__(self, spans: Iterable[Span]) -> None:
        self.spans: tuple[Span, ...] = tuple(sorted(spans, key=lambda s: (s.start_ns, s.span_id)))
        self._by_id: dict[str, Span] = {span.span_id: span for span in self.spans}
        # Keyed by (trace id, span id): a parent is always in its child's trace.
        self._by_key: dict[tuple[str, str], Span] = {span_key(s): s for s in self.spans}
        self._children: dict[tuple[str, str], list[Span]] = {}
        for span in self.spans:
            parent = self.parent_of(span)
            if parent is not None:
                self._children.setdefault(span_key(parent), []).append(span)

    def __len__(self) -> int:
        return len(self.spans)

    def __iter__(self) -> Iterator[Span]:
        return iter(self.spans)

    def __repr__(self) -> str:
        return f"Trace({len(self.spans)} spans, trace_ids={sorted(self.trace_ids)})"

    @property
    def trace_ids(self) -> set[str]:
        """Every trace id among the spans."""
        return {span.trace_id for span in self.spans}

    @property
    def trace_id(self) -> str | None:
        """The trace id when every span shares one, else None."""
        ids = self.trace_ids
        return next(iter(ids)) if len(ids) == 1 else None

    @property
    def services(self) -> set[str]:
        """Every service name among the spans."""
        return {span.service for span in self.spans}

    def span(self, span_id: str) -> Span | None:
        """The span with this id, or None."""
        return self._by_id.get(span_id)

    def parent_of(self, span: Span) -> Span | None:
        """The span's parent when it is part of this trace."""
        if not span.parent_span_id:
            return None
        return self._by_key.get((span.trace_id, span.parent_span_id))

    def roots(self) -> list[Span]:
        """Spans whose parent is not in the trace (a complete trace has exactly one)."""
        return [span for span in self.spans if self.parent_of(span) is None]

    def children_of(self, span: Span) -> list[Span]:
        """The span's direct children, sorted by start time."""
        return list(self._children.get(span_key(span), ()))

    def by_service(self) -> dict[str, list[Span]]:
        """Spans grouped by service name, each group sorted by start time."""
        groups: dict[str, list[Span]] = {}
        for span in self.spans:
            groups.setdefault(span.service, []).append(span)
        return groups

    def named(self, name: str) -> list[Span]:
        """The spans called ``name``."""
        return [span for span in self.spans if span.name == name]

    @property
    def duration_ns(self) -> int:
        """From the earliest start to the latest end (0 for an empty trace)."""
        if not self.spans:
            return 0
        return max(span.end_ns for span in self.spans) - min(s.start_ns for s in self.spans)

    @property
    def duration_ms(self) -> float:
        """The trace's duration in milliseconds."""
        return self.duration_ns / 1e6
