"""The db service's queries, run on a psycopg 3 connection pool.

Every statement is parametrised; the psycopg instrumentation records the
statement text (with its ``%s`` placeholders) but never the values.

Time limits: a request waits for a connection at most the pool timeout, cut
to its budget (``services.common.deadline``); every statement runs under
PostgreSQL's ``statement_timeout`` (``DB_STATEMENT_TIMEOUT_MS``), lowered for
the transaction when the request has less budget left. While PostgreSQL is
down requests fail at once (``services.db.availability``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolClosed

from services.common import deadline, faults, scenarios, telemetry
from services.common.errors import ApiError
from services.db.availability import DatabaseWatch, unavailable
from services.db.settings import Settings

log = logging.getLogger(__name__)
_tracer = telemetry.tracer(__name__)

FIND_CREDENTIALS = "SELECT id, email, password_hash FROM users WHERE email = %s"
FIND_PROFILE = "SELECT id, email, name, created_at FROM users WHERE id = %s"
# One round trip answers both "does the user exist?" and "what did they do?":
# no row means no user, one row of NULLs means a user without activity.
LIST_ACTIVITY = """\
SELECT a.id, a.kind, a.detail, a.created_at
FROM users AS u
LEFT JOIN LATERAL (
    SELECT id, kind, detail, created_at
    FROM activity
    WHERE activity.user_id = u.id
    ORDER BY created_at DESC, id DESC
    LIMIT %s
) AS a ON true
WHERE u.id = %s"""
# Scenario slow-query: the same answer, but the cast on user_id defeats the
# (user_id, created_at) index; the pg_sleep stands in for scanning a table
# far larger than the seed's (the ``scan_ms`` parameter).
LIST_ACTIVITY_UNINDEXED = """\
SELECT a.id, a.kind, a.detail, a.created_at
FROM users AS u
CROSS JOIN (SELECT pg_sleep(%s)) AS full_table_scan
LEFT JOIN LATERAL (
    SELECT id, kind, detail, created_at
    FROM activity
    WHERE activity.user_id::text = u.id::text
    ORDER BY created_at DESC, id DESC
    LIMIT %s
) AS a ON true
WHERE u.id = %s"""
LIST_ACTIVITY_IDS = """\
SELECT a.id
FROM users AS u
LEFT JOIN LATERAL (
    SELECT id FROM activity
    WHERE activity.user_id = u.id
    ORDER BY created_at DESC, id DESC
    LIMIT %s
) AS a ON true
WHERE u.id = %s"""
FIND_ACTIVITY = "SELECT id, kind, detail, created_at FROM activity WHERE id = %s"

POOL_WAIT_SPAN = "db.pool.wait"
POOL_NAME = "tracelab-db"


@dataclass(frozen=True)
class CredentialsRow:
    """What auth needs to check a password."""

    id: int
    email: str
    password_hash: str


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


_probe = threading.local()
# The watches of this process's stores: a pooled connection found broken on
# checkout is the first sign of an outage, long before a pool timeout.
_watches: weakref.WeakSet[DatabaseWatch] = weakref.WeakSet()


def _check_connection(conn: psycopg.Connection[Any]) -> None:
    # The pool's liveness probe on checkout is plumbing, not part of the trace;
    # its time is not waiting for a connection either (see UserStore._record_wait).
    started = time.perf_counter_ns()
    try:
        with suppress_instrumentation():
            ConnectionPool.check_connection(conn)
    except Exception:
        for watch in list(_watches):
            watch.suspect()
        raise
    finally:
        _probe.ns = getattr(_probe, "ns", 0) + time.perf_counter_ns() - started


def build_pool(settings: Settings) -> ConnectionPool:
    """A closed pool for ``settings``; the caller opens it (after telemetry init)."""
    return ConnectionPool(
        settings.database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout_s,
        kwargs={
            "connect_timeout": settings.connect_timeout_s,
            "application_name": "tracelab-db",
            "options": f"-c statement_timeout={settings.statement_timeout_ms}",
        },
        check=_check_connection,
        name=POOL_NAME,
        open=False,
    )


def _statement_timed_out() -> ApiError:
    """The 504 of a statement PostgreSQL cancelled (the budget's, or statement_timeout)."""
    left = deadline.remaining()
    if left is not None and left <= 0.01:
        return deadline.DeadlineExceeded("while db ran the query")
    return ApiError(504, "query_timeout", "the query ran longer than the statement timeout")


def _activity_row(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": row[0], "kind": row[1], "detail": row[2], "created_at": _timestamp(row[3])}


class UserStore:
    """Reads users and their activity; database failures become 503 :class:`ApiError`.

    A wait for a pooled connection longer than ``wait_span_ms`` is recorded
    as a ``db.pool.wait`` span (a starved pool shows in the trace; a healthy
    one adds no span).
    """

    def __init__(
        self, pool: ConnectionPool, wait_span_ms: float = 20, statement_timeout_ms: int = 2000
    ) -> None:
        self.pool = pool
        self.wait_span_ms = wait_span_ms
        self.statement_timeout_ms = statement_timeout_ms
        self.watch = DatabaseWatch(self._connects, on_recovered=self.pool.check)
        _watches.add(self.watch)
        self._gate_lock = threading.Lock()
        self._starved_gate: tuple[int, threading.Semaphore] | None = None

    def _gate(self) -> tuple[threading.Semaphore | None, float, int]:
        """Scenario pool-starvation: (gate, hold seconds, effective pool size).

        Switched at runtime, the scenario cannot shrink a psycopg pool that
        already holds connections, so a semaphore of ``pool_size`` permits
        stands in for ``DB_POOL_MAX_SIZE=1``: requests queue for it exactly as
        they would for the pool's only connection.
        """
        starved = faults.active(scenarios.POOL_STARVATION)
        if starved is None:
            return None, 0.0, self.pool.max_size
        size = max(1, int(starved["pool_size"]))
        with self._gate_lock:
            if self._starved_gate is None or self._starved_gate[0] != size:
                self._starved_gate = (size, threading.Semaphore(size))
            gate = self._starved_gate[1]
        return gate, starved["hold_ms"] / 1000, size

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        deadline.check("before db asked for a connection")
        self.watch.check_available()
        gate, hold_s, pool_max = self._gate()
        _probe.ns = 0
        started_ns = time.time_ns()
        wait_s = deadline.cap(self.pool.timeout)
        try:
            with contextlib.ExitStack() as held:
                if gate is not None:
                    if not gate.acquire(timeout=wait_s):
                        deadline.check("while db waited for a connection")
                        raise unavailable()
                    held.callback(gate.release)
                conn = held.enter_context(self.pool.connection(timeout=wait_s))
                self._record_wait(started_ns, pool_max)
                self._limit_statement(conn)
                yield conn
                if hold_s:
                    # The starvation pattern: slow post-processing done while
                    # still holding the connection.
                    time.sleep(hold_s)
        except pg_errors.QueryCanceled as exc:
            raise self._failed(exc, _statement_timed_out()) from None
        except PoolClosed as exc:
            raise self._failed(exc, unavailable()) from None
        except psycopg.OperationalError as exc:
            # Pool timeouts and lost connections: a pool starved by load, or
            # PostgreSQL gone; the watch finds out which.
            self.watch.suspect()
            deadline.check("while db waited for a connection")
            raise self._failed(exc, unavailable()) from None

    def _failed(self, exc: Exception, error: ApiError) -> ApiError:
        span = trace.get_current_span()
        span.record_exception(exc)
        log.warning("database call failed: %s (%s)", type(exc).__name__, error.code)
        return error

    def _limit_statement(self, conn: psycopg.Connection[Any]) -> None:
        """Lower ``statement_timeout`` for this transaction to the budget left."""
        left = deadline.remaining()
        if left is None or left * 1000 >= self.statement_timeout_ms:
            return
        with suppress_instrumentation():
            conn.execute(
                "SELECT set_config('statement_timeout', %s, true)", (str(max(1, int(left * 1000))),)
            )

    def _connects(self) -> bool:
        """A fresh connection (not from the pool) answers ``SELECT 1``."""
        kwargs = {**(self.pool.kwargs or {}), "connect_timeout": 1}
        with suppress_instrumentation(), psycopg.connect(self.pool.conninfo, **kwargs) as conn:
            conn.execute("SELECT 1")
        return True

    def _record_wait(self, started_ns: int, pool_max: int) -> None:
        ended_ns = time.time_ns()
        waited_ms = (ended_ns - started_ns - getattr(_probe, "ns", 0)) / 1e6
        if waited_ms < self.wait_span_ms:
            return
        span = _tracer.start_span(
            POOL_WAIT_SPAN,
            start_time=started_ns,
            attributes={
                "db.system": "postgresql",
                "db.client.connection.pool.name": POOL_NAME,
                "db.client.connection.pool.max": pool_max,
                "tracelab.pool.wait_ms": round(waited_ms, 2),
            },
        )
        span.end(end_time=ended_ns)

    def find_credentials(self, email: str) -> CredentialsRow | None:
        """The id, email and password hash of ``email``'s user, or None."""
        with self._connection() as conn:
            row = conn.execute(FIND_CREDENTIALS, (email,)).fetchone()
        if row is None:
            return None
        return CredentialsRow(id=row[0], email=row[1], password_hash=row[2])

    def find_profile(self, user_id: int) -> dict[str, Any] | None:
        """The public profile of ``user_id``, or None when there is no such user."""
        with self._connection() as conn:
            row = conn.execute(FIND_PROFILE, (user_id,)).fetchone()
        if row is None:
            return None
        return {"id": row[0], "email": row[1], "name": row[2], "created_at": _timestamp(row[3])}

    def list_activity(self, user_id: int, limit: int) -> list[dict[str, Any]] | None:
        """The newest ``limit`` activity entries of ``user_id``, or None for no such user."""
        slow = faults.active(scenarios.SLOW_QUERY)
        if slow is not None and not faults.roll(float(slow["share"])):
            slow = None
        with self._connection() as conn:
            if slow is None:
                rows = conn.execute(LIST_ACTIVITY, (limit, user_id)).fetchall()
            else:
                scan_s = slow["scan_ms"] / 1000
                rows = conn.execute(LIST_ACTIVITY_UNINDEXED, (scan_s, limit, user_id)).fetchall()
        if not rows:
            return None
        return [_activity_row(row) for row in rows if row[0] is not None]

    def list_activity_ids(self, user_id: int, limit: int) -> list[int] | None:
        """The ids of the newest ``limit`` activity entries, or None for no such user."""
        with self._connection() as conn:
            rows = conn.execute(LIST_ACTIVITY_IDS, (limit, user_id)).fetchall()
        if not rows:
            return None
        return [row[0] for row in rows if row[0] is not None]

    def find_activity(self, activity_id: int) -> dict[str, Any] | None:
        """One activity entry by its id, or None."""
        with self._connection() as conn:
            row = conn.execute(FIND_ACTIVITY, (activity_id,)).fetchone()
        return _activity_row(row) if row is not None else None

    def ping(self) -> bool:
        """True when ``SELECT 1`` succeeds (probes are not traced); False at once when down."""
        if self.watch.down:
            return False
        try:
            with suppress_instrumentation(), self.pool.connection() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True
