"""The db service's queries, run on a psycopg 3 connection pool.

Every statement is parametrised; the psycopg instrumentation records the
statement text (with its ``%s`` placeholders) but never the values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from psycopg_pool import ConnectionPool

from services.common.errors import ApiError
from services.db.settings import Settings

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class CredentialsRow:
    """What auth needs to check a password."""

    id: int
    email: str
    password_hash: str


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _check_connection(conn: psycopg.Connection[Any]) -> None:
    # The pool's liveness probe on checkout is plumbing, not part of the trace.
    with suppress_instrumentation():
        ConnectionPool.check_connection(conn)


def build_pool(settings: Settings) -> ConnectionPool:
    """A closed pool for ``settings``; the caller opens it (after telemetry init)."""
    return ConnectionPool(
        settings.database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout_s,
        kwargs={"connect_timeout": settings.connect_timeout_s, "application_name": "tracelab-db"},
        check=_check_connection,
        name="tracelab-db",
        open=False,
    )


class UserStore:
    """Reads users and their activity; database failures become 503 :class:`ApiError`."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self.pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as exc:
            # Pool timeouts, a closed pool and lost connections all land here.
            span = trace.get_current_span()
            span.record_exception(exc)
            log.warning("database unavailable: %s", type(exc).__name__)
            raise ApiError(503, "database_unavailable", "the database is not available") from None

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
        with self._connection() as conn:
            rows = conn.execute(LIST_ACTIVITY, (limit, user_id)).fetchall()
        if not rows:
            return None
        return [
            {"id": row[0], "kind": row[1], "detail": row[2], "created_at": _timestamp(row[3])}
            for row in rows
            if row[0] is not None
        ]

    def ping(self) -> bool:
        """True when ``SELECT 1`` succeeds (probes are not traced)."""
        try:
            with suppress_instrumentation(), self.pool.connection() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True
