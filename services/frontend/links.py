"""The link from an answer's trace id to the tracelab console's trace view."""

from __future__ import annotations

# The page substitutes the trace id for this marker; URL encoding leaves it intact.
TRACE_ID_MARKER = "__TRACE_ID__"


def console_trace_link(console_url: str, trace_id: str = TRACE_ID_MARKER) -> str:
    """The console's view of ``trace_id`` (the console reads it from the tracing backend)."""
    return f"{console_url.rstrip('/')}/#/trace/{trace_id}"
