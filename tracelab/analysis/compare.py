"""Compare two traces: which spans match, which are only in one, and where the time moved.

Spans are matched by their *operation path*: the (service, span name,
target) of every span from the root down to them, where the target is the
called URL or statement with its numbers replaced (``/users/{n}/activity``),
so the two calls of the dashboard's fan-out stay apart whatever their order.
Spans that still share a path (the N calls of an N+1) are paired in start
order. For each matched pair the comparison gives the latency difference,
the self-time difference and the critical-path difference (B minus A).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tracelab.analysis.critical_path import critical_path, critical_time
from tracelab.analysis.timing import self_time_ns
from tracelab.shapes.model import Span, Trace

_NUMBER = re.compile(r"\d+")

PathKey = tuple[tuple[str, str, str], ...]


def _target(span: Span) -> str:
    raw = str(span.attributes.get("url.full") or span.attributes.get("db.statement") or "")
    return _NUMBER.sub("{n}", raw.split("?", 1)[0])


def operation_paths(trace: Trace) -> dict[tuple[PathKey, int], Span]:
    """Every span by (its operation path from the root, its ordinal among equal paths)."""
    keyed: dict[tuple[PathKey, int], Span] = {}
    counters: dict[PathKey, int] = {}
    # Depth first, children in start order, without recursion (traces can be deep).
    stack: list[tuple[Span, PathKey]] = [
        (root, ()) for root in sorted(trace.roots(), key=lambda s: s.start_ns, reverse=True)
    ]
    while stack:
        span, prefix = stack.pop()
        path = (*prefix, (span.service, span.name, _target(span)))
        ordinal = counters.get(path, 0)
        counters[path] = ordinal + 1
        keyed[(path, ordinal)] = span
        stack.extend((child, path) for child in reversed(trace.children_of(span)))
    return keyed


def _ms(ns: float) -> float:
    return round(ns / 1e6, 3)


@dataclass(frozen=True)
class SpanDelta:
    """A span found in both traces, and how it changed from A to B."""

    path: PathKey
    a: Span
    b: Span
    a_self_ns: int
    b_self_ns: int
    a_critical_ns: int
    b_critical_ns: int

    @property
    def delta_ns(self) -> int:
        """B's duration minus A's."""
        return self.b.duration_ns - self.a.duration_ns

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, in milliseconds."""
        return {
            "path": [f"{service} {name}" for service, name, _ in self.path],
            "service": self.a.service,
            "name": self.a.name,
            "depth": len(self.path) - 1,
            "a_span": self.a.span_id,
            "b_span": self.b.span_id,
            "a_ms": _ms(self.a.duration_ns),
            "b_ms": _ms(self.b.duration_ns),
            "delta_ms": _ms(self.delta_ns),
            "a_self_ms": _ms(self.a_self_ns),
            "b_self_ms": _ms(self.b_self_ns),
            "self_delta_ms": _ms(self.b_self_ns - self.a_self_ns),
            "a_critical_ms": _ms(self.a_critical_ns),
            "b_critical_ms": _ms(self.b_critical_ns),
            "critical_delta_ms": _ms(self.b_critical_ns - self.a_critical_ns),
        }


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`."""

    a: Trace
    b: Trace
    matched: tuple[SpanDelta, ...]
    only_a: tuple[Span, ...]
    only_b: tuple[Span, ...]
    a_critical_ns: int
    b_critical_ns: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: totals, matched spans in A's tree order, the largest critical-path
        changes, and the spans found in one trace only."""

        def side(trace: Trace, critical: int) -> dict[str, Any]:
            return {
                "trace_id": trace.trace_id,
                "duration_ms": _ms(trace.duration_ns),
                "span_count": len(trace),
                "critical_path_ms": _ms(critical),
            }

        def alone(span: Span) -> dict[str, Any]:
            return {
                "span_id": span.span_id,
                "service": span.service,
                "name": span.name,
                "ms": _ms(span.duration_ns),
            }

        moved = sorted(
            self.matched,
            key=lambda d: (-abs(d.b_critical_ns - d.a_critical_ns), -abs(d.delta_ns)),
        )
        return {
            "a": side(self.a, self.a_critical_ns),
            "b": side(self.b, self.b_critical_ns),
            "delta_ms": _ms(self.b.duration_ns - self.a.duration_ns),
            "critical_path_delta_ms": _ms(self.b_critical_ns - self.a_critical_ns),
            "matched": [delta.to_dict() for delta in self.matched],
            "largest_changes": [delta.to_dict() for delta in moved[:5]],
            "only_a": [alone(span) for span in self.only_a],
            "only_b": [alone(span) for span in self.only_b],
        }


def _critical(trace: Trace) -> tuple[Mapping[str, int], int]:
    segments = critical_path(trace)
    return critical_time(segments), sum(segment.duration_ns for segment in segments)


def compare(a: Trace, b: Trace) -> Comparison:
    """Match ``a`` and ``b`` span by span (see the module docstring)."""
    paths_a, paths_b = operation_paths(a), operation_paths(b)
    on_path_a, total_a = _critical(a)
    on_path_b, total_b = _critical(b)
    matched = [
        SpanDelta(
            key[0],
            span,
            paths_b[key],
            self_time_ns(a, span),
            self_time_ns(b, paths_b[key]),
            on_path_a.get(span.span_id, 0),
            on_path_b.get(paths_b[key].span_id, 0),
        )
        for key, span in paths_a.items()
        if key in paths_b
    ]
    only_a = tuple(span for key, span in paths_a.items() if key not in paths_b)
    only_b = tuple(span for key, span in paths_b.items() if key not in paths_a)
    return Comparison(a, b, tuple(matched), only_a, only_b, total_a, total_b)
