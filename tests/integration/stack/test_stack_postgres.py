"""A real PostgreSQL started and stopped by the runner."""

from __future__ import annotations

import psutil
import psycopg
import pytest

from tracelab.stack import Stack
from tracelab.stack.config import POSTGRES

pytestmark = pytest.mark.integration


def _postmaster_pid(stack: Stack) -> int:
    return int((stack.pg_data_dir / "postmaster.pid").read_text().splitlines()[0])


def test_postgres_up_serves_the_tracelab_database_and_down_stops_it(stack, port_env):
    info = stack.up(components=[POSTGRES], bootstrap=False, timeout=60)
    port = int(port_env["TRACELAB_POSTGRES_PORT"])
    assert info.ports["postgres"] == port
    assert info.dsn == f"postgresql://tracelab:tracelab@127.0.0.1:{port}/tracelab"
    with psycopg.connect(info.dsn) as conn:
        user, database = conn.execute("SELECT current_user, current_database()").fetchone()
    assert (user, database) == ("tracelab", "tracelab")

    [row] = stack.status()
    assert (row.name, row.alive, row.ready) == (POSTGRES, True, True)
    pid = _postmaster_pid(stack)
    assert row.pid == pid
    assert (stack.run_dir / "pids" / "postgres.pid").read_text().strip() == str(pid)

    assert stack.down() == [POSTGRES]
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not (stack.pg_data_dir / "postmaster.pid").exists()
    assert stack.status() == []
    assert stack.down() == []  # idempotent


def test_second_up_reuses_the_cluster_and_a_running_stack(stack):
    first = stack.up(components=[POSTGRES], bootstrap=False, timeout=60)
    again = stack.up(components=[POSTGRES], bootstrap=False, timeout=60)
    assert again.already_running
    assert again.dsn == first.dsn
    stack.down()
    # initdb ran once: the restarted server finds the role and database it made.
    restarted = stack.up(components=[POSTGRES], bootstrap=False, timeout=60)
    assert not restarted.already_running
    # The log is kept across restarts (one start marker per start) and initdb ran once.
    log = (stack.run_dir / "logs" / "postgres.log").read_text()
    assert log.count("--- tracelab: postgres starting at") == 2
    assert log.count("Success. You can now start the database server") == 1
    with psycopg.connect(restarted.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_bootstrap_applies_the_schema_when_requested(stack):
    info = stack.up(components=[POSTGRES], bootstrap=True, timeout=90)
    with psycopg.connect(info.dsn) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()[0]
    assert tables > 0
    assert (stack.run_dir / "logs" / "bootstrap.log").stat().st_size > 0
