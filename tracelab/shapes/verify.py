"""Fetch a trace from a backend until it matches a shape or the time is up."""

from __future__ import annotations

import time

from tracelab.shapes.backends import BackendClient, BackendError, TraceNotFound
from tracelab.shapes.ids import normalise_trace_id
from tracelab.shapes.matcher import MatchResult, match
from tracelab.shapes.model import Trace
from tracelab.shapes.shape import Shape


def verify_trace(
    client: BackendClient,
    shape: Shape,
    trace_id: str,
    *,
    timeout: float = 30.0,
    interval: float = 0.25,
) -> MatchResult:
    """The first matching result, or the last mismatching one when the time is up.

    Spans reach a backend in batches, so an early fetch may hold half a
    trace: it is fetched again until it matches. Raises
    :class:`~tracelab.shapes.backends.TraceNotFound` when the backend never
    returned the trace at all.
    """
    trace_id = normalise_trace_id(trace_id)
    deadline = time.monotonic() + timeout
    result: MatchResult | None = None
    trace: Trace | None = None
    error: BackendError | None = None
    while True:
        try:
            trace = client.get_trace(trace_id)
            error = None
        except BackendError as exc:
            error = exc
        if trace is not None:
            result = match(shape, trace)
            if result.ok:
                return result
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    if result is None:
        seen = f"after {timeout:g}s the backend never returned it"
        if error is not None:
            seen += f"; last error: {error}"
        raise TraceNotFound(client.label, trace_id, seen)
    return result
