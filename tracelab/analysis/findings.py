"""Findings on any trace: what is probably wrong with it, with the spans and numbers that say so.

The workshop's scenario signatures, generalised: each detector looks at a
trace whether or not a scenario caused it, and ``tracelab scenario check``
judges its scenarios with these same detectors (never a second copy). Each
finding names its spans (the console highlights them), gives its evidence
(counts, milliseconds) and a one-line explanation.

The detectors and their thresholds (:class:`Thresholds`, every one settable
from the CLI and the console as ``name=value``):

``n-plus-one``
    One parent makes ``repeated_calls`` (3) or more client calls of the same
    operation to different targets: one call per item.
``sequential-fanout``
    A parent makes 2 to ``repeated_calls - 1`` calls of one operation to
    different targets, one after another (no two overlap): they could run
    concurrently. (More calls than that are an N+1.)
``dominating-span``
    One span's own time (not covered by its children) is at least
    ``dominating_share`` (0.5) of the whole trace and ``dominating_min_ms``
    (100 ms) long.
``retries``
    The same call (operation and URL) is made ``retry_attempts`` (2) or more
    times by one parent, earlier attempts failing or later ones marked as
    resends (``http.request.resend_count``).
``pool-wait``
    Spans waited ``pool_wait_ms`` (20 ms) or more in all for a pooled
    connection (``*.pool.wait`` spans, or a ``tracelab.pool.wait_ms``
    attribute).
``broken-trace``
    The trace is in pieces: spans whose parent is not in it, a trace that
    starts with a client span (its caller's context was lost), or, when the
    backend can be asked, a server span that made no call while a trace of
    its own starts at that service during it.
``blocked-wait``
    A client span waits ``blocked_slack_ms`` (50 ms) and ``blocked_slack_share``
    (0.5) of its duration longer than the server span it reached worked: the
    caller or the callee could not run (a blocked event loop, a queue).
``error-origin``
    The trace failed (its root, or a server span answering 5xx, has status
    error): where the error began (the first error span with no error below
    it) and the spans it propagated through to the edge. Expected 4xx answers
    (a bad token, a missing user) are not findings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from tracelab.analysis.timing import self_time_ns
from tracelab.shapes.model import Span, Trace


@dataclass(frozen=True)
class Thresholds:
    """Where each detector draws its line (see the module docstring)."""

    repeated_calls: int = 3
    dominating_share: float = 0.5
    dominating_min_ms: float = 100.0
    retry_attempts: int = 2
    pool_wait_ms: float = 20.0
    blocked_slack_ms: float = 50.0
    blocked_slack_share: float = 0.5
    # Seconds around a leaf server span in which the backend is searched for
    # the other piece of a broken trace.
    broken_window_s: float = 1.0

    def with_overrides(self, pairs: Mapping[str, str | float | int]) -> Thresholds:
        """A copy with ``name=value`` overrides; ValueError names a bad one."""
        known = {f.name: f.type for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for name, raw in pairs.items():
            if name not in known:
                raise ValueError(f"unknown threshold {name!r}; known: {', '.join(sorted(known))}")
            current = getattr(self, name)
            try:
                value = type(current)(float(raw)) if isinstance(current, int) else float(raw)
            except (TypeError, ValueError):
                raise ValueError(f"threshold {name} must be a number, got {raw!r}") from None
            if value < 0:
                raise ValueError(f"threshold {name} must not be negative")
            changes[name] = value
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, float]:
        """Every threshold by name."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Finding:
    """One thing a detector found: its kind, a one-line explanation, spans, evidence."""

    kind: str
    title: str
    spans: tuple[str, ...]
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "kind": self.kind,
            "title": self.title,
            "spans": list(self.spans),
            "evidence": dict(self.evidence),
        }


@dataclass
class AnalysisContext:
    """What detectors may use besides the trace: thresholds and, optionally, the backend.

    ``find_traces(service, start_s, end_s)`` returns the traces around a
    moment (the broken-trace detector's lookup); None when no backend can be
    asked.
    """

    thresholds: Thresholds = field(default_factory=Thresholds)
    find_traces: Callable[[str, float, float], list[Trace]] | None = None


Detector = Callable[[Trace, AnalysisContext], list[Finding]]


def _ms(ns: float) -> float:
    return round(ns / 1e6, 1)


def _label(span: Span) -> str:
    return f"{span.service} {span.name}"


def _target(span: Span) -> str:
    return str(span.attributes.get("url.full") or span.attributes.get("db.statement") or "")


def _is_resend(span: Span) -> bool:
    return int(span.attributes.get("http.request.resend_count") or 0) > 0


def _operation_groups(trace: Trace, parent: Span) -> dict[tuple[str, str], list[Span]]:
    """The client children of ``parent`` by (service, name), in start order."""
    groups: dict[tuple[str, str], list[Span]] = {}
    for child in trace.children_of(parent):
        if child.kind == "client":
            groups.setdefault((child.service, child.name), []).append(child)
    return groups


def _distinct_targets(calls: Iterable[Span]) -> list[Span]:
    """The calls to different targets (a call repeated to one target is a retry)."""
    seen: dict[str, Span] = {}
    for call in calls:
        if not _is_resend(call):
            seen.setdefault(_target(call) or call.span_id, call)
    return list(seen.values())


def n_plus_one(trace: Trace, ctx: AnalysisContext) -> list[Finding]:
    """Many calls of one operation under one parent, each to another target."""
    found = []
    for parent in trace:
        for (service, name), calls in _operation_groups(trace, parent).items():
            distinct = _distinct_targets(calls)
            if len(distinct) < ctx.thresholds.repeated_calls:
                continue
            total = sum(call.duration_ns for call in distinct)
            found.append(
                Finding(
                    "n-plus-one",
                    f"{_label(parent)} makes {len(distinct)} {service} {name} calls, one per "
                    f"item ({_ms(total)} ms in all): fetch them in one call",
                    tuple(call.span_id for call in distinct),
                    {"calls": len(distinct), "parent": parent.span_id, "total_ms": _ms(total)},
                )
            )
    return found


def sequential_fanout(trace: Trace, ctx: AnalysisContext) -> list[Finding]:
    """A few calls of one operation to different targets, strictly one after another."""
    found = []
    for parent in trace:
        for (service, name), calls in _operation_groups(trace, parent).items():
            distinct = sorted(_distinct_targets(calls), key=lambda s: s.start_ns)
            if not 2 <= len(distinct) < ctx.thresholds.repeated_calls:
                continue
            overlapping = any(
                a.overlaps(b) for i, a in enumerate(distinct) for b in distinct[i + 1 :]
            )
            if overlapping:
                continue
            serial = sum(call.duration_ns for call in distinct)
            longest = max(call.duration_ns for call in distinct)
            gaps = [_ms(later.start_ns - earlier.end_ns) for earlier, later in pairwise(distinct)]
            found.append(
                Finding(
                    "sequential-fanout",
                    f"{_label(parent)} makes its {len(distinct)} {service} {name} calls one "
                    f"after another: concurrently they would take {_ms(longest)} ms, "
                    f"not {_ms(serial)} ms",
                    tuple(call.span_id for call in distinct),
                    {
                        "calls": len(distinct),
                        "serial_ms": _ms(serial),
                        "concurrent_ms": _ms(longest),
                        "gaps_ms": gaps,
                    },
                )
            )
    return found


def dominating_span(trace: Trace, ctx: AnalysisContext) -> list[Finding]:
    """The span whose own time is most of the trace."""
    if not len(trace) or not trace.duration_ns:
        return []
    own = {span.span_id: self_time_ns(trace, span) for span in trace}
    worst = max(trace, key=lambda span: own[span.span_id])
    share = own[worst.span_id] / trace.duration_ns
    limits = ctx.thresholds
    if share < limits.dominating_share or own[worst.span_id] / 1e6 < limits.dominating_min_ms:
        return []
    return [
        Finding(
            "dominating-span",
            f"{_label(worst)} alone takes {share:.0%} of the trace "
            f"({_ms(own[worst.span_id])} of {_ms(trace.duration_ns)} ms)",
            (worst.span_id,),
            {
                "self_ms": _ms(own[worst.span_id]),
                "trace_ms": _ms(trace.duration_ns),
                "share": round(share, 3),
            },
        )
    ]


def retries(trace: Trace, ctx: AnalysisContext) -> list[Finding]:
    """The same call made again by one parent after earlier attempts failed."""
    found = []
    for parent in trace:
        attempts: dict[tuple[str, str, str], list[Span]] = {}
        for child in trace.children_of(parent):
            if child.kind == "client":
                key = (child.service, child.name, _target(child))
                attempts.setdefault(key, []).append(child)
        for (service, name, target), calls in attempts.items():
            if len(calls) < ctx.thresholds.retry_attempts or not target:
                continue
            failed = [call for call in calls[:-1] if call.status == "error"]
            resent = [call for call in calls if _is_resend(call)]
            if not failed and not resent:
                continue
            counts = [int(c.attributes.get("http.request.resend_count") or 0) for c in calls]
            found.append(
                Finding(
                    "retries",
                    f"{_label(parent)} tried {service} {name} {target} {len(calls)} times "
                    f"({len(failed)} failed attempt(s) before the last)",
                    tuple(call.span_id for call in calls),
                    {
                        "attempts": len(calls),
                        "failed_before_last": len(failed),
                        "resend_counts": counts,
                        "total_ms": _ms(sum(call.duration_ns for call in calls)),
                    },
                )
            )
    return found


def _pool_wait_ms(span: Span) -> float | None:
    if "tracelab.pool.wait_ms" in span.attributes:
        return float(span.attributes["tracelab.pool.wait_ms"])
    if span.name.endswith(".pool.wait"):
        return span.duration_ns / 1e6
    return None


def pool_wait(trace: Trace, ctx: AnalysisContext) -> list[Finding]:
    """Time spent waiting for a pooled connection."""
    waits = [(span, ms) for span in trace if (ms := _pool_wait_ms(span)) is not None]
    total = sum(ms for _, ms in waits)
    if not waits or total < ctx.thresholds.pool_wait_ms:
        return []
    sizes = sorted(
        {
            int(span.attributes["db.client.connection.pool.max"])
            for span, _ in waits
            if "db.client.connection.pool.max" in span.attributes
        }
    )
    pool = f" (pool of {', '.join(map(str, sizes))})" if sizes else ""
    return [
        Finding(
            "pool-wait",
            f"{len(waits)} wait(s) for a pooled connection{pool}, {total:.1f} ms in all",
            tuple(span.span_id for span, _ in waits),
            {
                "waits": len(waits),
                "total_ms": round(total, 1),
                "longest_ms": round(max(ms for _, ms in waits), 1),
                "pool_max": sizes,
            },
        )
    ]


def broken_trace(trace: Trace, ctx: AnalysisContext) -> list[Finding]:
    """A trace in pieces: missing parents, a client root, or a piece continuing elsewhere."""
    found = []
    orphans = [span for span in trace if span.parent_span_id and trace.parent_of(span) is None]
    if orphans:
        found.append(
            Finding(
                "broken-trace",
                f"{len(orphans)} span(s) name a parent that is not in the trace "
                "(lost, not sampled, or still arriving)",
                tuple(span.span_id for span in orphans),
                {"orphans": len(orphans)},
            )
        )
    client_roots = [span for span in trace.roots() if span.kind == "client"]
    if client_roots:
        found.append(
            Finding(
                "broken-trace",
                f"the trace starts with a client span of {client_roots[0].service}: "
                "the context of the work that made this call was lost",
                tuple(span.span_id for span in client_roots),
                {"client_roots": len(client_roots)},
            )
        )
    if ctx.find_traces is None:
        return found
    window = ctx.thresholds.broken_window_s
    for server in (s for s in trace if s.kind == "server" and not trace.children_of(s)):
        pieces = []
        for other in ctx.find_traces(
            server.service, server.start_ns / 1e9 - window, server.end_ns / 1e9 + window
        ):
            if other.trace_id == trace.trace_id:
                continue
            roots = other.roots()
            if roots and all(
                r.service == server.service
                and r.kind == "client"
                and server.start_ns <= r.start_ns <= server.end_ns
                for r in roots
            ):
                pieces.append(other.trace_id)
        if pieces:
            found.append(
                Finding(
                    "broken-trace",
                    f"{_label(server)} made no call in this trace, but during it "
                    f"{server.service} started trace(s) of its own with a client span: "
                    "its context was lost on the way",
                    (server.span_id,),
                    {"continued_in": sorted(pieces)[:5], "pieces": len(pieces)},
                )
            )
    return found


def blocked_wait(trace: Trace, ctx: AnalysisContext) -> list[Finding]:
    """Client spans that waited much longer than the server they reached worked."""
    limits = ctx.thresholds
    worst: list[tuple[float, Span, Span]] = []
    for client in (s for s in trace if s.kind == "client"):
        servers = [c for c in trace.children_of(client) if c.kind == "server"]
        if not servers:
            continue
        worked = sum(server.duration_ns for server in servers)
        slack = client.duration_ns - worked
        if slack / 1e6 >= limits.blocked_slack_ms and slack >= (
            limits.blocked_slack_share * client.duration_ns
        ):
            worst.append((slack, client, servers[0]))
    found = []
    for slack, client, server in sorted(worst, key=lambda item: -item[0]):
        found.append(
            Finding(
                "blocked-wait",
                f"{_label(client)} waited {_ms(client.duration_ns)} ms for {_label(server)}, "
                f"which worked {_ms(server.duration_ns)} ms: {_ms(slack)} ms where "
                f"{client.service} or {server.service} could not run "
                "(a blocked event loop, a queue)",
                (client.span_id, server.span_id),
                {
                    "client_ms": _ms(client.duration_ns),
                    "server_ms": _ms(server.duration_ns),
                    "unexplained_ms": _ms(slack),
                },
            )
        )
    return found


def _status_code(span: Span) -> int:
    try:
        return int(span.attributes.get("http.response.status_code") or 0)
    except (TypeError, ValueError):
        return 0


def _exception(span: Span) -> str:
    for event in span.events:
        if event.name == "exception":
            kind = str(event.attributes.get("exception.type", ""))
            message = str(event.attributes.get("exception.message", ""))
            return f"{kind}: {message}" if message else kind
    return span.status_message


def error_origin(trace: Trace, ctx: AnalysisContext) -> list[Finding]:
    """Where a failed trace's error began, and the spans it went through to the edge."""
    failed = [
        s
        for s in trace
        if s.status == "error" and (trace.parent_of(s) is None or _status_code(s) >= 500)
    ]
    if not failed:
        return []
    errors = [s for s in trace if s.status == "error"]

    def has_error_below(span: Span) -> bool:
        stack = list(trace.children_of(span))
        while stack:
            child = stack.pop()
            if child.status == "error":
                return True
            stack.extend(trace.children_of(child))
        return False

    leaves = [s for s in errors if not has_error_below(s)]
    origin = min(leaves, key=lambda s: (s.start_ns, s.span_id))
    path = [origin]
    parent = trace.parent_of(origin)
    while parent is not None:
        if parent.status == "error" or _status_code(parent) >= 400:
            path.append(parent)
        parent = trace.parent_of(parent)
    cause = _exception(origin)
    through = " -> ".join(
        f"{_label(s)}" + (f" ({_status_code(s)})" if _status_code(s) else "") for s in path[1:]
    )
    return [
        Finding(
            "error-origin",
            f"the error began in {_label(origin)}"
            + (f" ({cause})" if cause else "")
            + (f", then {through}" if through else ""),
            tuple(s.span_id for s in path),
            {
                "origin": origin.span_id,
                "origin_service": origin.service,
                "cause": cause,
                "error_spans": len(errors),
                "path": [_label(s) for s in path],
            },
        )
    ]


DETECTORS: dict[str, Detector] = {
    "n-plus-one": n_plus_one,
    "sequential-fanout": sequential_fanout,
    "dominating-span": dominating_span,
    "retries": retries,
    "pool-wait": pool_wait,
    "broken-trace": broken_trace,
    "blocked-wait": blocked_wait,
    "error-origin": error_origin,
}


def analyze(
    trace: Trace, ctx: AnalysisContext | None = None, kinds: Iterable[str] | None = None
) -> list[Finding]:
    """Every finding of the detectors named in ``kinds`` (default: all) on ``trace``."""
    ctx = ctx or AnalysisContext()
    names = list(kinds) if kinds is not None else list(DETECTORS)
    unknown = sorted(set(names) - set(DETECTORS))
    if unknown:
        raise ValueError(f"unknown detector {', '.join(unknown)}; known: {', '.join(DETECTORS)}")
    return [finding for name in names for finding in DETECTORS[name](trace, ctx)]
