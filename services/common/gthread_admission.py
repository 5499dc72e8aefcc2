"""gunicorn's gthread worker, with its request queue counted, bounded and timed.

Why a worker subclass: the stock gthread worker accepts every connection and
hands each ready request to its thread pool, whose queue has no bound. A
request waiting there is invisible to the application, which only sees it
once a thread is free: under overload it starts work seconds late and a
timeout measured by the app never covers the wait. No gunicorn setting
bounds that queue (``worker_connections`` and ``backlog`` only move the wait
into the kernel, where a client sees a hang, not an answer).

This worker, in its main thread where requests enter the pool:

- stamps each request with the moment it became ready (:class:`Arrival`), so
  the app counts queued time against the request's budget and queue-wait
  limit (``services.common.flask_support``);
- counts the requests in the pool (working or queued) and, past
  ``threads + max_queued``, sends the request to a small separate *shed*
  pool instead, where the app answers it at once with 503 (inside its server
  span) rather than letting it queue.

It also lets the app ask for the connection to be closed after its answer
(:func:`close_connection_after_response`): gunicorn drains at most 64 KiB of
a body the app did not read and then closes, so an answer that announced
keep-alive would be a lie to the client's connection pool.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

SHED_THREADS = 2

_local = threading.local()


@dataclass(frozen=True)
class Arrival:
    """When a request became ready to serve, and whether the worker shed it."""

    at: float  # time.monotonic()
    shed: bool
    in_pool: int  # requests working or queued in the pool when it arrived
    threads: int


def current_arrival() -> Arrival | None:
    """The arrival of the request this thread serves (None outside this worker)."""
    return getattr(_local, "arrival", None)


@contextmanager
def serving(arrival: Arrival | None) -> Iterator[None]:
    """Make ``arrival`` the current thread's request arrival for the block."""
    _local.arrival = arrival
    try:
        yield
    finally:
        _local.arrival = None


def close_connection_after_response() -> None:
    """Answer the current request with ``Connection: close`` (no-op outside this worker)."""
    request = getattr(_local, "request", None)
    if request is not None:
        request.must_close = True


class AdmissionThreadWorker(ThreadWorker):
    """A gthread worker that sheds requests past ``threads + max_queued``."""

    max_queued = 16

    def init_process(self) -> None:
        """Create the shed pool and the counters, then run as the stock worker."""
        self._in_pool = 0
        self._shed_pool = futures.ThreadPoolExecutor(
            max_workers=SHED_THREADS, thread_name_prefix="tracelab-shed"
        )
        super().init_process()

    def enqueue_req(self, conn: Any) -> None:
        """Stamp the request and send it to the thread pool, or to the shed pool when full."""
        shed = self._in_pool >= self.cfg.threads + self.max_queued
        conn.tracelab_arrival = Arrival(time.monotonic(), shed, self._in_pool, self.cfg.threads)
        conn.tracelab_pooled = not shed
        if shed:
            fs = self._shed_pool.submit(self.handle, conn)
        else:
            self._in_pool += 1
            fs = self.tpool.submit(self.handle, conn)
        fs.add_done_callback(lambda fut: self.method_queue.defer(self.finish_request, conn, fut))

    def finish_request(self, conn: Any, fs: futures.Future[Any]) -> None:
        """Count the request out of the pool, then finish it as the stock worker does."""
        if getattr(conn, "tracelab_pooled", False):
            conn.tracelab_pooled = False
            self._in_pool -= 1
        super().finish_request(conn, fs)

    def handle(self, conn: Any) -> Any:
        """Serve one request with its arrival visible to the app (worker thread)."""
        with serving(getattr(conn, "tracelab_arrival", None)):
            return super().handle(conn)

    def handle_request(self, req: Any, conn: Any) -> bool:
        """Serve ``req``, letting the app ask for ``Connection: close``."""
        _local.request = req
        try:
            return super().handle_request(req, conn)
        finally:
            _local.request = None

    def run(self) -> None:
        """Run as the stock worker; stop the shed pool with the thread pool."""
        try:
            super().run()
        finally:
            self._shed_pool.shutdown(wait=False)


def worker_class(max_queued: int) -> type[AdmissionThreadWorker]:
    """The worker class for a service that queues at most ``max_queued`` requests."""
    return type("AdmissionThreadWorker", (AdmissionThreadWorker,), {"max_queued": max_queued})
