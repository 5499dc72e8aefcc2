"""A match result as a tree for people: every expected node and every span, marked.

:func:`golden_diff` turns a :class:`~tracelab.shapes.matcher.MatchResult`
into the JSON the console draws: the expected tree with each node marked
``ok`` (a span fits it), ``differs`` (the closest span does not: the reason
is given, e.g. children that should overlap in time but do not), ``differs
below`` (the span fits the node itself, something under it differs),
``missing`` (no span is plausibly it) or ``not reached`` (its parent
already differs);
the trace-level checks (overlap of named nodes, roots, trace ids, absent
attributes) with their outcome; and, per span id, whether the span is
``matched``, ``differs`` or ``extra`` (a child the shape does not allow).
"""

from __future__ import annotations

from typing import Any

from tracelab.shapes.matcher import MatchResult, Mismatch, where
from tracelab.shapes.render import describe_node
from tracelab.shapes.shape import Node


def _reason(mismatch: Mismatch) -> str:
    return f"{mismatch.what}: expected {mismatch.expected}, found {mismatch.found}"


def golden_diff(result: MatchResult) -> dict[str, Any]:
    """The diff document of ``result`` (see the module docstring)."""
    by_where: dict[str, list[Mismatch]] = {}
    for mismatch in result.mismatches:
        by_where.setdefault(mismatch.where, []).append(mismatch)
    spans: dict[str, dict[str, Any]] = {}

    def mark(span_id: str, status: str, node: str, reason: str | None = None) -> None:
        entry = spans.setdefault(span_id, {"status": status, "node": node, "reasons": []})
        if status != "matched":
            entry["status"] = status
        if reason:
            entry["reasons"].append(reason)

    nodes = []
    stack: list[tuple[Node, int, bool]] = [(result.shape.root, 0, True)]
    while stack:
        node, depth, reachable = stack.pop()
        problems = [m for m in by_where.get(where(node), []) if m.what != "unexpected child"]
        matched = result.matched.get(node) or result.partial.get(node, [])
        compared = result.compared.get(node)
        if matched and not problems:
            status = "ok"
        elif any(m.what == "missing" for m in problems):
            status = "missing"
        elif problems:
            status = "differs"
        elif compared is not None:
            status = "differs below"  # the span fits this node; something under it does not
        else:
            status = "not reached" if not reachable or not result.ok else "ok"
        span_ids = [span.span_id for span in matched]
        if compared is not None and not span_ids:
            span_ids = [compared.span_id]
        for span in matched:
            mark(span.span_id, "matched", node.label())
        if status == "differs":
            for mismatch in problems or ():
                if mismatch.span is not None:
                    mark(mismatch.span.span_id, "differs", node.label(), _reason(mismatch))
                if mismatch.what == "concurrent children":
                    # The children fit; their timing is what differs: mark them too.
                    for child in node.children:
                        for span in result.partial.get(child, []):
                            mark(span.span_id, "differs", child.label(), _reason(mismatch))
        for mismatch in by_where.get(where(node), []):
            if mismatch.what == "unexpected child" and mismatch.span is not None:
                mark(mismatch.span.span_id, "extra", node.label(), _reason(mismatch))
        nodes.append(
            {
                "path": node.path,
                "id": node.id,
                "depth": depth,
                "label": describe_node(node),
                "status": status,
                "spans": span_ids,
                "reasons": [_reason(m) for m in problems],
            }
        )
        child_reachable = status in ("ok", "differs below") or any(
            c in result.partial for c in node.children
        )
        stack.extend((child, depth + 1, child_reachable) for child in reversed(node.children))

    checks = []
    for a_id, b_id in result.shape.overlap:
        failing = [m for m in by_where.get(f"overlap [{a_id}, {b_id}]", [])]
        found = result.matched or result.partial
        spans_a = [s.span_id for s in found.get(result.shape.node(a_id), ())]
        spans_b = [s.span_id for s in found.get(result.shape.node(b_id), ())]
        checks.append(
            {
                "check": f"{a_id} and {b_id} overlap in time",
                "ok": not failing and bool(spans_a and spans_b),
                "reasons": [_reason(m) for m in failing],
                "spans": spans_a + spans_b,
            }
        )
        for span_id in spans_a + spans_b if failing else ():
            mark(span_id, "differs", f"overlap [{a_id}, {b_id}]", _reason(failing[0]))
    for mismatch in by_where.get("trace", []):
        checks.append(
            {
                "check": mismatch.what,
                "ok": False,
                "reasons": [_reason(mismatch)],
                "spans": [mismatch.span.span_id] if mismatch.span else [],
            }
        )
        if mismatch.span is not None:
            mark(mismatch.span.span_id, "differs", "trace", _reason(mismatch))
    return {
        "shape": result.shape.name,
        "description": result.shape.description,
        "ok": result.ok,
        "mismatches": [str(m) for m in result.mismatches],
        "nodes": nodes,
        "checks": checks,
        "spans": spans,
        "report": result.report(),
    }
