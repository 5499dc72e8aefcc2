"""Has the whole trace arrived? A heuristic for traces read while spans are still in flight.

Spans reach a backend in batches, one per service process. In this lab every
HTTP call goes to an instrumented service, so a trace whose spans all have
their parent, and whose HTTP client spans (not database calls) all have the
server span they reached, looks complete. A trace broken on purpose (the
lost-context scenario) never looks complete: the console then stops
refreshing once the trace stops growing and says what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracelab.shapes.model import Trace


@dataclass(frozen=True)
class Arrival:
    """Whether the trace looks whole, and what says it does not."""

    complete: bool
    waiting_for_parent: int
    unanswered_calls: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "complete": self.complete,
            "waiting_for_parent": self.waiting_for_parent,
            "unanswered_calls": self.unanswered_calls,
        }


def arrival(trace: Trace) -> Arrival:
    """Judge ``trace`` (see the module docstring)."""
    orphans = sum(1 for span in trace if span.parent_span_id and trace.parent_of(span) is None)
    unanswered = sum(
        1
        for span in trace
        if span.kind == "client"
        and not span.attributes.get("db.system")
        and not trace.children_of(span)
    )
    complete = len(trace) > 0 and orphans == 0 and unanswered == 0
    return Arrival(complete, orphans, unanswered)
