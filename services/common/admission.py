"""Bounded admission: a service works on a few requests at once and queues a few more.

Everything past the bound is *shed*: answered at once with ``503
overloaded`` (``Retry-After``, the JSON error body) instead of waiting in a
queue nobody can see, which under overload only makes every request late.
A queued request that waits longer than ``MAX_QUEUE_WAIT_MS`` is shed too;
one whose budget ran out while it waited gets ``504 deadline_exceeded``.

Where the queue is:

- aiohttp services (gateway, user): :class:`AsyncAdmission` in a middleware:
  ``MAX_IN_FLIGHT_REQUESTS`` at once, ``MAX_QUEUED_REQUESTS`` waiting;
- gunicorn services (frontend, auth, db): the gthread worker's thread pool
  is the in-flight limit (``WEB_THREADS``), and its queue is counted and
  bounded where requests enter it (``services.common.gthread_admission``).

A shed request still gets its server span: :func:`mark_shed` puts the
reason and the load that caused it on the span (``tracelab.shed.*``
attributes and a ``tracelab.request_shed`` event), so a trace shows what
shedding looks like.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from opentelemetry import trace

from services.common import deadline
from services.common.errors import ApiError

SHED_EVENT = "tracelab.request_shed"
SHED_REASON = "tracelab.shed.reason"
QUEUE_FULL = "queue_full"
QUEUE_TIMEOUT = "queue_timeout"


class Overloaded(ApiError):
    """503 ``overloaded``: ``service`` shed this request (``Retry-After`` set)."""

    def __init__(self, service: str) -> None:
        super().__init__(503, "overloaded", f"{service} is overloaded: try again shortly")


@dataclass(frozen=True)
class Limits:
    """How much a service takes on: in flight, waiting, and how long one may wait."""

    max_in_flight: int
    max_queued: int
    max_queue_wait_s: float


def mark_shed(reason: str, *, in_flight: int, queued: int, waited_s: float = 0.0) -> None:
    """Record on the current (server) span why its request is shed, and the load then."""
    span = trace.get_current_span()
    attributes = {
        SHED_REASON: reason,
        "tracelab.shed.in_flight": in_flight,
        "tracelab.shed.queued": queued,
        "tracelab.shed.waited_ms": round(waited_s * 1000, 1),
    }
    span.set_attributes(attributes)
    span.add_event(SHED_EVENT, attributes)


class AsyncAdmission:
    """The admission gate of an aiohttp service (one per app, one event loop)."""

    def __init__(self, service: str, limits: Limits) -> None:
        self.service = service
        self.limits = limits
        self.in_flight = 0
        self.queued = 0
        self._slots = asyncio.Semaphore(limits.max_in_flight)

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """Hold one slot while the block runs; raise 503 or 504 when none comes in time."""
        if self._slots.locked() and self.queued >= self.limits.max_queued:
            mark_shed(QUEUE_FULL, in_flight=self.in_flight, queued=self.queued)
            raise Overloaded(self.service)
        if self._slots.locked():
            await self._wait_for_slot()
        else:
            await self._slots.acquire()
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._slots.release()

    async def _wait_for_slot(self) -> None:
        self.queued += 1
        started = time.monotonic()
        try:
            async with asyncio.timeout(deadline.cap(self.limits.max_queue_wait_s)):
                await self._slots.acquire()
        except TimeoutError:
            deadline.check("while the request waited in the queue")
            mark_shed(
                QUEUE_TIMEOUT,
                in_flight=self.in_flight,
                queued=self.queued,
                waited_s=time.monotonic() - started,
            )
            raise Overloaded(self.service) from None
        finally:
            self.queued -= 1
        trace.get_current_span().set_attribute(
            deadline.QUEUE_WAIT_ATTRIBUTE, round((time.monotonic() - started) * 1000, 1)
        )
