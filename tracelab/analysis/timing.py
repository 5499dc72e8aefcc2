"""Self time of each span and the per-service, per-operation statistics of a trace.

A span's self time is its duration minus the time covered by at least one
of its children (children clipped to the span; overlapping children count
once). It is the time the span's own code, or something not instrumented,
took.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracelab.analysis.critical_path import Segment, critical_path, critical_time
from tracelab.shapes.model import Span, Trace


def covered_ns(intervals: list[tuple[int, int]]) -> int:
    """The length of the union of ``(start, end)`` intervals."""
    total = 0
    reach = None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def self_time_ns(trace: Trace, span: Span) -> int:
    """``span``'s duration not covered by any child."""
    children = [
        (max(c.start_ns, span.start_ns), min(c.end_ns, span.end_ns))
        for c in trace.children_of(span)
    ]
    return span.duration_ns - covered_ns([(s, e) for s, e in children if e > s])


@dataclass
class OperationStats:
    """The spans of one service and span name within a trace."""

    service: str
    name: str
    count: int = 0
    total_ns: int = 0
    self_ns: int = 0
    critical_ns: int = 0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready, in milliseconds."""
        return {
            "service": self.service,
            "name": self.name,
            "count": self.count,
            "total_ms": round(self.total_ns / 1e6, 3),
            "self_ms": round(self.self_ns / 1e6, 3),
            "critical_ms": round(self.critical_ns / 1e6, 3),
        }


def trace_statistics(trace: Trace, path: list[Segment] | None = None) -> list[OperationStats]:
    """Count, total, self and critical-path time per (service, span name), most self time first.

    ``path`` is the trace's critical path when the caller has it already.
    """
    on_path = critical_time(critical_path(trace) if path is None else path)
    rows: dict[tuple[str, str], OperationStats] = {}
    for span in trace:
        row = rows.setdefault((span.service, span.name), OperationStats(span.service, span.name))
        row.count += 1
        row.total_ns += span.duration_ns
        row.self_ns += self_time_ns(trace, span)
        row.critical_ns += on_path.get(span.span_id, 0)
    return sorted(rows.values(), key=lambda r: (-r.self_ns, r.service, r.name))
