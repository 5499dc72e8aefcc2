"""The critical path of a trace: which span was doing the work the end-to-end latency waited for.

The rule (the same idea as Jaeger UI's critical path, and the one the
console states under its waterfall): walk each span backwards from its end.
The child that finishes last at or before the current point is on the path
for its whole extent (walked the same way, recursively); the span itself
owns the gap between that child's end and the point; then the point jumps to
that child's start. Siblings that overlap a child already on the path are
off it: their time is hidden behind it (of two concurrent calls, only the
one the parent waited for longest counts). Children are first clipped to
their parent's interval, so a child that outlives its parent (asynchronous
work) only counts up to the parent's end.

The segments of the path tile the root span exactly: their durations add up
to the root's duration.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tracelab.shapes.model import Span, Trace


@dataclass(frozen=True)
class Segment:
    """A stretch of time on the critical path, owned by one span."""

    span_id: str
    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        """Its length."""
        return self.end_ns - self.start_ns


@dataclass
class _Frame:
    span: Span
    lo: int
    cursor: int
    children: Iterator[tuple[int, int, Span]]


def _clipped_children(
    trace: Trace, span: Span, lo: int, hi: int
) -> Iterator[tuple[int, int, Span]]:
    """``(start, end, child)`` clipped to ``[lo, hi]``, latest end first."""
    clipped = []
    for child in trace.children_of(span):
        start, end = max(child.start_ns, lo), min(child.end_ns, hi)
        if end > start:
            clipped.append((start, end, child))
    clipped.sort(key=lambda item: (-item[1], item[0]))
    return iter(clipped)


def main_root(trace: Trace) -> Span | None:
    """The root the path starts from: the longest root (a broken trace has several)."""
    roots = trace.roots()
    return max(roots, key=lambda s: (s.duration_ns, -s.start_ns), default=None)


def critical_path(trace: Trace, root: Span | None = None) -> list[Segment]:
    """The critical path under ``root`` (default :func:`main_root`), in time order."""
    root = root or main_root(trace)
    if root is None or root.end_ns <= root.start_ns:
        return []
    found: list[Segment] = []
    stack = [
        _Frame(
            root,
            root.start_ns,
            root.end_ns,
            _clipped_children(trace, root, root.start_ns, root.end_ns),
        )
    ]
    while stack:
        frame = stack[-1]
        picked = None
        if frame.cursor > frame.lo:
            for start, end, child in frame.children:
                if end <= frame.lo:
                    break
                if end <= frame.cursor:
                    picked = (start, end, child)
                    break
        if picked is None:
            if frame.cursor > frame.lo:
                found.append(Segment(frame.span.span_id, frame.lo, frame.cursor))
            stack.pop()
            continue
        start, end, child = picked
        if frame.cursor > end:
            found.append(Segment(frame.span.span_id, end, frame.cursor))
        frame.cursor = start
        stack.append(_Frame(child, start, end, _clipped_children(trace, child, start, end)))
    found.reverse()
    return found


def critical_time(segments: list[Segment]) -> dict[str, int]:
    """Nanoseconds on the critical path per span id."""
    totals: dict[str, int] = {}
    for segment in segments:
        totals[segment.span_id] = totals.get(segment.span_id, 0) + segment.duration_ns
    return totals
