"""Bootstrap and seed: idempotent, reproducible, and consistent with services.db.seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from services.db.bootstrap import SQL_DIR, BootstrapError, bootstrap
from services.db.seed import (
    SEED_ACTIVITY_PER_USER,
    SEED_USER_COUNT,
    activity_sql,
    seed_activity,
    seed_user,
    user_row_sql,
)
from tracelab.stack.ports import find_free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def _counts(database_url: str) -> tuple[int, int]:
    with psycopg.connect(database_url) as conn:
        users = conn.execute("SELECT count(*) FROM users").fetchone()[0]
        activity = conn.execute("SELECT count(*) FROM activity").fetchone()[0]
    return users, activity


def test_seed_is_complete(database_url):
    assert _counts(database_url) == (SEED_USER_COUNT, SEED_USER_COUNT * SEED_ACTIVITY_PER_USER)


def test_bootstrap_is_idempotent(database_url):
    before = _counts(database_url)
    bootstrap(database_url)
    assert _counts(database_url) == before


@pytest.mark.parametrize("n", [1, 2, 500, SEED_USER_COUNT])
def test_sql_rows_match_the_python_seed(database_url, n):
    user = seed_user(n)
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT id, email, name, created_at FROM users WHERE id = %s", (n,)
        ).fetchone()
        activity = conn.execute(
            "SELECT id, user_id, kind, detail, created_at FROM activity"
            " WHERE user_id = %s ORDER BY id",
            (n,),
        ).fetchall()
    assert row == (user.id, user.email, user.name, user.created_at)
    expected = [(a.id, a.user_id, a.kind, a.detail, a.created_at) for a in seed_activity(n)]
    assert activity == expected


def test_committed_seed_sql_is_reproducible():
    committed = (SQL_DIR / "seed.sql").read_text(encoding="utf-8")
    lines = committed.splitlines()
    for n in (1, 2, 3, 499, 999, SEED_USER_COUNT):
        row = user_row_sql(n)
        assert row in (line.rstrip(",") for line in lines), f"user {n}'s row differs"
    assert activity_sql() in committed
    assert sum(line.startswith("    (") for line in lines) == SEED_USER_COUNT


def test_schema_sql_and_seed_sql_apply_in_one_go_as_plain_sql(database_url):
    # The same files go to /docker-entrypoint-initdb.d: plain SQL, no psql
    # meta-commands, and nothing that fails when applied a second time.
    for name in ("schema.sql", "seed.sql"):
        text = (SQL_DIR / name).read_text(encoding="utf-8")
        assert not [line for line in text.splitlines() if line.startswith("\\")]
        with psycopg.connect(database_url) as conn:
            conn.execute(text)


def test_unreachable_database_is_a_one_line_error():
    url = f"postgresql://tracelab:pw-not-shown@127.0.0.1:{find_free_port()}/tracelab"
    with pytest.raises(BootstrapError) as caught:
        bootstrap(url, connect_timeout_s=2)
    message = str(caught.value)
    assert "cannot connect to PostgreSQL at tracelab@127.0.0.1" in message
    assert "pw-not-shown" not in message

    result = subprocess.run(
        [sys.executable, "-m", "services.db.bootstrap"],
        env={**os.environ, "DATABASE_URL": url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("bootstrap: error: cannot connect")
    assert "pw-not-shown" not in result.stderr


def test_bootstrap_command_reports_success(database_url):
    result = subprocess.run(
        [sys.executable, "-m", "services.db.bootstrap"],
        env={**os.environ, "DATABASE_URL": database_url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("bootstrap: applied schema.sql, seed.sql to tracelab@")
