"""What each scenario does to a trace, measured programmatically.

Golden shapes (``tests/shapes/scenarios/<name>.yaml``) give the structure of
each signature; the measures here cover what a shape cannot say: durations,
spans that must NOT overlap, a trace split in two.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tracelab.shapes.backends import BackendClient, BackendError
from tracelab.shapes.model import Span, Trace
from tracelab.shapes.query import TraceQuery


@dataclass(frozen=True)
class Finding:
    """Whether a trace shows the signature, and the numbers that say so."""

    present: bool
    detail: str


@dataclass
class Context:
    """What a measure may need besides the trace."""

    params: Mapping[str, Any]
    backend: BackendClient | None = None
    window_s: tuple[float, float] = (0.0, 0.0)
    extra: dict[str, Any] = field(default_factory=dict)


Measure = Callable[[Trace, Context], Finding]


def _sql(trace: Trace) -> list[Span]:
    return [s for s in trace if s.kind == "client" and s.attributes.get("db.system")]


def _subtree(trace: Trace, span: Span) -> list[Span]:
    found, stack = [], list(trace.children_of(span))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(trace.children_of(child))
    return found


def _one(trace: Trace, service: str, kind: str, name_part: str) -> Span | None:
    spans = [s for s in trace if s.service == service and s.kind == kind and name_part in s.name]
    return spans[0] if spans else None


def slow_query(trace: Trace, ctx: Context) -> Finding:
    """One SQL span takes at least half of the whole trace."""
    sql = max(_sql(trace), key=lambda s: s.duration_ns, default=None)
    if sql is None or not trace.duration_ns:
        return Finding(False, "no SQL span")
    share = sql.duration_ns / trace.duration_ns
    total = trace.duration_ms
    detail = f"longest SQL span {sql.duration_ms:.1f} ms = {share:.0%} of {total:.1f} ms"
    return Finding(share >= 0.5, detail)


def n_plus_one(trace: Trace, ctx: Context) -> Finding:
    """The activity request makes more than one SQL query (one per row)."""
    server = _one(trace, "user", "server", "/activity")
    if server is None:
        return Finding(False, "no user activity server span")
    queries = [s for s in _subtree(trace, server) if s.attributes.get("db.system")]
    return Finding(len(queries) > 2, f"{len(queries)} SQL queries under {server.name}")


def sequential_fanout(trace: Trace, ctx: Context) -> Finding:
    """The fan-out's two calls do not overlap in time."""
    fanout = next(iter(trace.named("gateway.dashboard_fanout")), None)
    calls = trace.children_of(fanout) if fanout else []
    if len(calls) != 2:
        return Finding(False, f"fan-out has {len(calls)} calls, expected 2")
    first, second = calls
    gap_ms = (second.start_ns - first.end_ns) / 1e6
    detail = f"second call starts {gap_ms:+.1f} ms after the first ends"
    return Finding(not first.overlaps(second), detail)


def pool_starvation(trace: Trace, ctx: Context) -> Finding:
    """A request queued for a connection of the starved pool (``db.pool.wait``, pool max 1)."""
    size = int(ctx.params.get("pool_size", 1))
    waits = [
        float(s.attributes.get("tracelab.pool.wait_ms", 0))
        for s in trace.named("db.pool.wait")
        if int(s.attributes.get("db.client.connection.pool.max", 0)) <= size
    ]
    if not waits:
        return Finding(False, f"no db.pool.wait span on a pool of {size}")
    return Finding(True, f"{len(waits)} wait(s) on a pool of {size}, longest {max(waits):.1f} ms")


def flaky_auth(trace: Trace, ctx: Context) -> Finding:
    """auth.token_verify failed with the injected exception."""
    for span in trace.named("auth.token_verify"):
        types = [e.attributes.get("exception.type", "") for e in span.events]
        if any(str(t).endswith("InjectedFault") for t in types):
            return Finding(True, f"auth.token_verify error: {span.status_message}")
    return Finding(False, "auth.token_verify did not fail")


def retry_storm(trace: Trace, ctx: Context) -> Finding:
    """Client spans marked as resends (``http.request.resend_count``)."""
    resends = [s for s in trace if s.attributes.get("http.request.resend_count")]
    attempts = 1 + max((int(s.attributes["http.request.resend_count"]) for s in resends), default=0)
    return Finding(bool(resends), f"{len(resends)} retried client span(s), {attempts} attempt(s)")


def orphan_roots(ctx: Context, service: str = "user") -> list[Trace]:
    """Traces in the time window whose root is a CLIENT span of ``service``."""
    if ctx.backend is None:
        return []
    start, end = ctx.window_s
    query = TraceQuery(service=service, start=start, end=end, limit=200)
    try:
        traces = ctx.backend.find_traces(query)
    except BackendError:
        return []
    orphans = []
    for trace in traces:
        roots = trace.roots()
        if roots and all(r.service == service and r.kind == "client" for r in roots):
            orphans.append(trace)
    return orphans


def lost_context(trace: Trace, ctx: Context, wait_s: float = 12.0) -> Finding:
    """The activity server span has no children; its db call starts a trace of its own."""
    server = _one(trace, "user", "server", "/activity")
    if server is None:
        return Finding(False, "no user activity server span")
    children = trace.children_of(server)
    if children:
        return Finding(False, f"user activity span keeps its {len(children)} child span(s)")
    deadline = time.monotonic() + wait_s
    while True:
        orphans = orphan_roots(ctx)
        if orphans or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if not orphans:
        return Finding(False, "user activity span is a leaf, but no separate trace was found")
    ids = ", ".join(sorted(o.trace_id or "?" for o in orphans)[:3])
    return Finding(True, f"trace split: db call continued in trace(s) {ids}")


def blocking_loop(trace: Trace, ctx: Context) -> Finding:
    """A call into or out of user waits far longer than the server it reached worked.

    While the profile handler blocks the event loop, user processes nothing
    else: a request that arrives meanwhile is accepted late (the caller's
    client span outlasts user's server span) and a response that arrives
    meanwhile is read late (user's client span outlasts the server it
    called). Which of the two a trace shows depends on arrival order, so
    both count.
    """
    worst_ms, worst = 0.0, ""
    for client in (s for s in trace if s.kind == "client"):
        children = trace.children_of(client)
        touches_user = client.service == "user" or any(
            c.service == "user" and c.kind == "server" for c in children
        )
        if not touches_user:
            continue
        slack_ms = client.duration_ms - sum(c.duration_ns for c in children) / 1e6
        if slack_ms > worst_ms:
            worst_ms, worst = slack_ms, f" ({client.service} {client.name} client span)"
    threshold = 0.5 * float(ctx.params.get("block_ms", 300))
    return Finding(
        worst_ms >= threshold, f"largest unexplained wait on user {worst_ms:.1f} ms{worst}"
    )


MEASURES: dict[str, Measure] = {
    "slow-query": slow_query,
    "n-plus-one": n_plus_one,
    "sequential-fanout": sequential_fanout,
    "pool-starvation": pool_starvation,
    "flaky-auth": flaky_auth,
    "retry-storm": retry_storm,
    "lost-context": lost_context,
    "blocking-loop": blocking_loop,
}
