"""A trace as the console's waterfall reads it: spans in tree order with their timings.

Times are offsets in microseconds from the trace's first span start (a
JavaScript number cannot hold Unix nanoseconds exactly); the trace's own
start is given in epoch milliseconds. Resources repeat across a service's
spans, so they are listed once and referred to by index.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tracelab.analysis.arrival import arrival
from tracelab.analysis.critical_path import critical_path, critical_time, main_root
from tracelab.analysis.timing import self_time_ns, trace_statistics
from tracelab.shapes.model import Span, Trace


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _attributes(attributes: Any) -> dict[str, Any]:
    return {str(k): _jsonable(v) for k, v in dict(attributes).items()}


def tree_order(trace: Trace) -> list[tuple[Span, int]]:
    """Every span with its depth, depth first, children by start time; orphans as roots."""
    ordered: list[tuple[Span, int]] = []
    stack = [(root, 0) for root in reversed(trace.roots())]
    while stack:
        span, depth = stack.pop()
        ordered.append((span, depth))
        stack.extend((child, depth + 1) for child in reversed(trace.children_of(span)))
    return ordered


def trace_view(trace: Trace, backend: str, now: float | None = None) -> dict[str, Any]:
    """The JSON document of the console's ``GET /api/trace/<id>`` (see the module docstring)."""
    origin = min(span.start_ns for span in trace)
    end = max(span.end_ns for span in trace)
    path = critical_path(trace)
    on_path = critical_time(path)
    root = main_root(trace)
    resources: list[dict[str, Any]] = []
    resource_index: dict[str, int] = {}
    spans = []
    for span, depth in tree_order(trace):
        resource = _attributes(span.resource)
        key = json.dumps(resource, sort_keys=True)
        if key not in resource_index:
            resource_index[key] = len(resources)
            resources.append(resource)
        spans.append(
            {
                "span_id": span.span_id,
                "parent_id": span.parent_span_id,
                "orphan": bool(span.parent_span_id) and trace.parent_of(span) is None,
                "depth": depth,
                "service": span.service,
                "name": span.name,
                "kind": span.kind,
                "status": span.status,
                "status_message": span.status_message,
                "scope": span.scope,
                "start_us": (span.start_ns - origin) / 1000,
                "duration_us": span.duration_ns / 1000,
                "self_us": self_time_ns(trace, span) / 1000,
                "critical_us": on_path.get(span.span_id, 0) / 1000,
                "children": len(trace.children_of(span)),
                "attributes": _attributes(span.attributes),
                "resource": resource_index[key],
                "events": [
                    {
                        "name": event.name,
                        "offset_us": (event.timestamp_ns - origin) / 1000,
                        "attributes": _attributes(event.attributes),
                    }
                    for event in span.events
                ],
                "links": [
                    {
                        "trace_id": link.trace_id,
                        "span_id": link.span_id,
                        "attributes": _attributes(link.attributes),
                    }
                    for link in span.links
                ],
            }
        )
    now = time.time() if now is None else now
    return {
        "trace_id": trace.trace_id,
        "backend": backend,
        "start_ms": origin / 1e6,
        "duration_us": (end - origin) / 1000,
        "span_count": len(trace),
        "services": sorted(trace.services),
        "error_count": sum(1 for span in trace if span.status == "error"),
        "root": {"service": root.service, "name": root.name} if root else None,
        "roots": len(trace.roots()),
        "age_s": round(max(0.0, now - end / 1e9), 3),
        "arrival": arrival(trace).to_dict(),
        "critical_path": [
            {
                "span_id": seg.span_id,
                "start_us": (seg.start_ns - origin) / 1000,
                "end_us": (seg.end_ns - origin) / 1000,
            }
            for seg in path
        ],
        "critical_path_rule": (
            "walking back from each span's end, the child that finishes last at or before "
            "that point is critical; siblings overlapping it are hidden behind it"
        ),
        "stats": [row.to_dict() for row in trace_statistics(trace, path)],
        "resources": resources,
        "spans": spans,
    }
