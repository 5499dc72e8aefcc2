"""``python -m services.db.bootstrap``: apply schema.sql then seed.sql to ``DATABASE_URL``.

Both files are idempotent plain SQL (Compose feeds the same files to the
PostgreSQL image's ``/docker-entrypoint-initdb.d``), so running this again
on a bootstrapped database changes nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from services.common.config import env_str
from services.db.settings import DEFAULT_DATABASE_URL

SQL_DIR = Path(__file__).resolve().parents[2] / "infra" / "postgres"
SQL_FILES = ("schema.sql", "seed.sql")
# Serialises concurrent bootstraps of one database (any constant will do).
_ADVISORY_LOCK_KEY = 0x7472616365


class BootstrapError(RuntimeError):
    """The database could not be reached or a file could not be applied."""


def describe_target(database_url: str) -> str:
    """``user@host:port/dbname`` of a connection URL, without its password."""
    try:
        parts = conninfo_to_dict(database_url)
    except psycopg.ProgrammingError:
        return "<unparsable DATABASE_URL>"
    host = parts.get("host") or "localhost"
    return f"{parts.get('user', '')}@{host}:{parts.get('port') or 5432}/{parts.get('dbname', '')}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def bootstrap(
    database_url: str,
    sql_dir: Path = SQL_DIR,
    files: Sequence[str] = SQL_FILES,
    connect_timeout_s: int = 5,
) -> None:
    """Apply each of ``files`` from ``sql_dir``, each in its own transaction."""
    scripts = []
    for name in files:
        try:
            scripts.append((name, (sql_dir / name).read_text(encoding="utf-8")))
        except OSError as exc:
            raise BootstrapError(f"cannot read {sql_dir / name}: {exc.strerror}") from None
    target = describe_target(database_url)
    try:
        conn = psycopg.connect(database_url, connect_timeout=connect_timeout_s, autocommit=True)
    except psycopg.Error as exc:
        raise BootstrapError(
            f"cannot connect to PostgreSQL at {target}: {_first_line(exc)}"
        ) from None
    with conn:
        for name, script in scripts:
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_KEY,))
                    # Without parameters psycopg uses the simple query protocol,
                    # which runs a whole multi-statement script.
                    conn.execute(script)  # type: ignore[arg-type]
            except psycopg.Error as exc:
                reason = _first_line(exc)
                raise BootstrapError(f"applying {name} to {target} failed: {reason}") from None


def main() -> int:
    """Bootstrap ``DATABASE_URL``; print one line and return the exit status."""
    database_url = env_str("DATABASE_URL", DEFAULT_DATABASE_URL)
    try:
        bootstrap(database_url)
    except BootstrapError as exc:
        print(f"bootstrap: error: {exc}", file=sys.stderr)
        return 1
    print(f"bootstrap: applied {', '.join(SQL_FILES)} to {describe_target(database_url)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
