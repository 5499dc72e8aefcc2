"""Request budgets: set at the edge, carried to every hop, honoured by every call.

The edge (the frontend) gives each request ``REQUEST_BUDGET_SECONDS``
(default 3 s), counted from the moment the request *arrived* (time spent
queued for a thread included). Every outbound call of a service sends what is
left in the ``X-Tracelab-Budget-Ms`` header and uses it as its timeout; the
next hop counts its own budget from that value. A hop whose budget is gone
answers ``504 deadline_exceeded`` at once, and a call is not started when
nothing is left: work nobody waits for any more is not done.

A hop without the header (a direct call) starts its own budget of
``REQUEST_BUDGET_SECONDS``; the frontend ignores the header, like an
untrusted ``traceparent``: internet callers do not choose our budgets.

The budget lives in a context variable: each aiohttp request runs in its own
task, each gunicorn request on its own thread, and ``asyncio.gather`` copies
it into the fan-out's tasks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from opentelemetry import trace

from services.common.errors import ApiError

BUDGET_HEADER = "X-Tracelab-Budget-Ms"
# The budget a hop passes on is this much shorter than its own, so the callee
# gives up (and answers 504 naming itself) just before its caller would.
REPLY_MARGIN_S = 0.02
# Span attributes of the server span: the budget at arrival, time queued.
BUDGET_ATTRIBUTE = "tracelab.deadline.budget_ms"
QUEUE_WAIT_ATTRIBUTE = "tracelab.queue.wait_ms"
EXCEEDED_EVENT = "tracelab.deadline_exceeded"

_deadline: ContextVar[float | None] = ContextVar("tracelab_deadline", default=None)


class DeadlineExceeded(ApiError):
    """504 ``deadline_exceeded``: the request's budget ran out ``where``."""

    def __init__(self, where: str) -> None:
        super().__init__(504, "deadline_exceeded", f"the request's time budget ran out {where}")


def _exceeded(where: str) -> DeadlineExceeded:
    # The span of the step that gave up says so, and where.
    trace.get_current_span().add_event(EXCEEDED_EVENT, {"tracelab.deadline.where": where})
    return DeadlineExceeded(where)


def parse_budget_ms(value: str | None) -> float | None:
    """The budget in seconds carried by a header value; None when absent or unusable."""
    if value is None:
        return None
    try:
        milliseconds = float(value)
    except ValueError:
        return None
    if not math.isfinite(milliseconds):
        return None
    return max(0.0, milliseconds) / 1000


def budget_for(header_value: str | None, default_s: float, *, trust_header: bool) -> float:
    """The budget of an arriving request: the caller's header (when trusted), else ours."""
    carried = parse_budget_ms(header_value) if trust_header else None
    return default_s if carried is None else carried


def start(budget_s: float, arrived_at: float | None = None) -> Token[float | None]:
    """Set the current request's deadline ``budget_s`` after ``arrived_at`` (monotonic)."""
    origin = time.monotonic() if arrived_at is None else arrived_at
    return _deadline.set(origin + budget_s)


def reset(token: Token[float | None]) -> None:
    """Forget the deadline :func:`start` set (end of the request)."""
    _deadline.reset(token)


@contextmanager
def budget(budget_s: float, arrived_at: float | None = None) -> Iterator[None]:
    """:func:`start` for the duration of a ``with`` block."""
    token = start(budget_s, arrived_at)
    try:
        yield
    finally:
        reset(token)


def remaining() -> float | None:
    """Seconds left in the current request's budget (may be negative); None without one."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def exhausted() -> bool:
    """True when the current request has a budget and too little of it is left for a call."""
    left = remaining()
    return left is not None and left <= REPLY_MARGIN_S


def check(where: str) -> None:
    """Raise :class:`DeadlineExceeded` when the current budget is used up."""
    left = remaining()
    if left is not None and left <= 0:
        raise _exceeded(where)


def cap(seconds: float) -> float:
    """``seconds``, cut to the budget left (a wait must not outlive the request)."""
    left = remaining()
    return seconds if left is None else max(0.0, min(seconds, left))


def for_call(service: str, timeout_s: float) -> tuple[float, dict[str, str]]:
    """The timeout and budget header of a call to ``service`` made now.

    Raises :class:`DeadlineExceeded` instead when too little budget is left
    to make the call at all.
    """
    left = remaining()
    if left is None:
        return timeout_s, {}
    passed_on = left - REPLY_MARGIN_S
    if passed_on <= 0:
        raise _exceeded(f"before calling {service}")
    return min(timeout_s, left), {BUDGET_HEADER: str(int(passed_on * 1000))}
