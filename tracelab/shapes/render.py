"""Text rendering of shapes, traces and match results (the matcher's report)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from tracelab.shapes.model import Span, Trace, span_key
from tracelab.shapes.shape import Node, Shape

if TYPE_CHECKING:
    from tracelab.shapes.matcher import MatchResult

INDENT = "  "


def describe_node(node: Node) -> str:
    """One line for an expected node: count, service, name, kind, status and checks."""
    parts = []
    if node.count.min != 1 or node.count.max != 1:
        parts.append(f"{node.count.describe()} x")
    parts.append(f"{node.service or '*'} {node.name_text()} [{node.kind or '*'}]")
    if node.status:
        parts.append(f"status={node.status}")
    if node.status_message:
        parts.append(f"message={node.status_message.describe()}")
    if node.attributes:
        parts.append("{" + ", ".join(f"{k}={m.describe()}" for k, m in node.attributes) + "}")
    if node.events:
        parts.append("events=[" + ", ".join(e.describe() for e in node.events) + "]")
    if node.absent_events:
        parts.append("no events=[" + ", ".join(node.absent_events) + "]")
    if node.absent_attributes:
        parts.append("no attributes=[" + ", ".join(node.absent_attributes) + "]")
    flags = [
        flag
        for flag, on in (
            ("ordered", node.ordered),
            ("extra children ok", node.allow_extra_children),
            ("concurrent children", node.concurrent_children),
        )
        if on
    ]
    if flags:
        parts.append("(" + ", ".join(flags) + ")")
    if node.id:
        parts.append(f"#{node.id}")
    return " ".join(parts)


def render_expected(shape: Shape) -> list[str]:
    """The expected tree, one indented line per node."""
    lines: list[str] = []

    def walk(node: Node, depth: int) -> None:
        lines.append(INDENT * depth + describe_node(node))
        for child in node.children:
            walk(child, depth + 1)

    walk(shape.root, 0)
    return lines


def describe_span(span: Span, origin: int) -> str:
    """One line for an actual span: service, name, kind, status, start offset, duration."""
    status = span.status
    if span.status_message:
        status += f" ({span.status_message})"
    events = f" events=[{', '.join(span.event_names())}]" if span.events else ""
    start = (span.start_ns - origin) / 1e6
    return (
        f"{span.service} {span.name!r} [{span.kind}] {status}{events}"
        f" @+{start:.1f}ms {span.duration_ms:.1f} ms"
    )


def render_actual(trace: Trace, notes: dict[tuple[str, str], list[int]] | None = None) -> list[str]:
    """The actual tree from every root; ``notes`` maps span keys to mismatch numbers."""
    notes = notes or {}
    origin = min((span.start_ns for span in trace.spans), default=0)
    lines: list[str] = []

    def walk(span: Span, depth: int) -> None:
        numbers = notes.get(span_key(span))
        mark = "!! " if numbers else "   "
        suffix = f"   <- {', '.join(str(n) for n in numbers)}" if numbers else ""
        lines.append(mark + INDENT * depth + describe_span(span, origin) + suffix)
        for child in trace.children_of(span):
            walk(child, depth + 1)

    for root in trace.roots():
        walk(root, 0)
    return lines


def render_report(result: MatchResult) -> str:
    """The full report of a match result (see :meth:`MatchResult.report`)."""
    shape, trace = result.shape, result.trace
    ids = ", ".join(sorted(trace.trace_ids)) or "(empty)"
    verdict = "MATCH" if result.ok else "MISMATCH"
    lines = [f"{verdict}: trace {ids} vs shape {shape.name!r} ({shape.source})"]
    if shape.description:
        lines.append(textwrap.fill(shape.description, 100, subsequent_indent=INDENT))
    notes: dict[tuple[str, str], list[int]] = {}
    if result.mismatches:
        lines += ["", f"{len(result.mismatches)} mismatch(es):"]
        for number, mismatch in enumerate(result.mismatches, start=1):
            lines.append(f"  {number}. {mismatch}")
            if mismatch.span is not None:
                notes.setdefault(span_key(mismatch.span), []).append(number)
        lines += ["", "expected:"]
        lines += [INDENT + line for line in render_expected(shape)]
    summary = f"{len(trace)} span(s), {trace.duration_ms:.1f} ms"
    lines += ["", f"actual ({summary}; !! marks spans named in a mismatch):"]
    lines += [INDENT + line for line in render_actual(trace, notes)]
    return "\n".join(lines)
