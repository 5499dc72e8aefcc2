"""The db service while PostgreSQL is stopped and started again, and its statement timeout.

The outage test runs its own PostgreSQL server (stopped with ``pg_ctl stop
-m fast``, started with ``pg_ctl start -w``), so the session's server is not
disturbed.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common import faults
from services.common.deadline import BUDGET_HEADER
from services.db.app import app_pool, create_app
from services.db.bootstrap import bootstrap
from tests.integration.db.conftest import db_settings
from tracelab.stack.ports import find_free_port
from tracelab.stack.postgres import PostgresCluster, find_pg_binaries

pytestmark = pytest.mark.integration

POOL_TIMEOUT_S = 2.0
OUTAGE_S = 5.0
RECOVERY_S = 1.0


class Server:
    """A PostgreSQL server of the test's own, bootstrapped."""

    def __init__(self, root: Path) -> None:
        self.cluster = PostgresCluster(root / "pg", root / "postgres.log", find_pg_binaries())
        self.port = find_free_port()
        self.dsn = ""

    def start(self) -> None:
        starting = self.cluster.start(self.port, wait_timeout=60)
        assert starting.wait(timeout=70) == 0, "PostgreSQL did not start"

    def stop(self) -> None:
        self.cluster.stop(timeout=10)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    root = Path(tempfile.mkdtemp(prefix="tracelab-outage-"))
    root.chmod(0o755)  # the server user must traverse it
    server = Server(root)
    try:
        server.cluster.check_prerequisites()
        server.cluster.initialize()
        server.start()
        server.dsn = server.cluster.create_app_database(server.port)
        bootstrap(server.dsn)
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _timed(client, path: str, **kwargs) -> tuple[int, dict, float]:
    started = time.monotonic()
    response = client.get(path, **kwargs)
    return response.status_code, response, time.monotonic() - started


def test_a_stopped_postgres_fails_fast_and_a_started_one_serves_within_a_second(server, spans):
    # Several idle connections, as a pool has after some load: all broken by the stop.
    app = create_app(db_settings(server.dsn, pool_min_size=4, pool_timeout_s=POOL_TIMEOUT_S))
    app_pool(app).wait(timeout=10)
    client = app.test_client()
    try:
        assert client.get("/users/1").status_code == 200
        server.stop()
        during = []
        stop_at = time.monotonic() + OUTAGE_S
        while time.monotonic() < stop_at:
            during.append(_timed(client, "/users/1"))
            time.sleep(0.05)
        assert client.get("/readyz").status_code == 503

        assert len(during) > 10
        for status, response, elapsed in during:
            assert status == 503
            assert response.get_json()["error"]["code"] == "database_unavailable"
            assert response.headers["Retry-After"] == "1"
            assert elapsed < POOL_TIMEOUT_S + 0.5  # never longer than the pool timeout
        # Once the outage is known, every request fails at once instead of waiting for the
        # pool: typically in milliseconds; the max allows a busy machine's scheduling delays.
        known = sorted(elapsed for _, _, elapsed in during[2:])
        assert known[len(known) // 2] < 0.05
        assert known[-1] < POOL_TIMEOUT_S / 4

        server.start()
        back = time.monotonic()
        # Typically one probe interval (0.2 s) and a few ms.
        while client.get("/users/1").status_code != 200:
            assert time.monotonic() - back < RECOVERY_S, "not serving soon after PostgreSQL"
            time.sleep(0.02)
        assert [client.get(f"/users/{n}").status_code for n in range(1, 21)] == [200] * 20
    finally:
        if server.cluster.postmaster() is None:
            server.start()
        app_pool(app).close()


@pytest.fixture
def slow_query() -> Iterator[None]:
    faults.REGISTRY.enable("slow-query", {"scan_ms": 1500})
    yield
    faults.REGISTRY.disable("slow-query")


def test_every_connection_has_the_statement_timeout(database_url):
    app = create_app(db_settings(database_url, statement_timeout_ms=750))
    pool = app_pool(app)
    try:
        with pool.connection() as conn:
            assert conn.execute("SHOW statement_timeout").fetchone()[0] == "750ms"
    finally:
        pool.close()


def test_a_statement_over_the_timeout_is_cancelled_and_504(database_url, slow_query):
    app = create_app(db_settings(database_url, statement_timeout_ms=300))
    app_pool(app).wait(timeout=10)
    try:
        status, response, elapsed = _timed(app.test_client(), "/users/1/activity")
        assert status == 504
        assert response.get_json()["error"]["code"] == "query_timeout"
        assert elapsed < 1.0  # cancelled at 300 ms, not after the 1.5 s scan
        assert app.test_client().get("/users/1").status_code == 200  # the connection is fine
    finally:
        app_pool(app).close()


def test_a_statement_is_cut_to_the_budget_left(database_url, slow_query):
    app = create_app(db_settings(database_url, statement_timeout_ms=5000))
    app_pool(app).wait(timeout=10)
    try:
        status, response, elapsed = _timed(
            app.test_client(), "/users/1/activity", headers={BUDGET_HEADER: "300"}
        )
        assert status == 504
        assert response.get_json()["error"]["code"] == "deadline_exceeded"
        assert elapsed < 1.0
    finally:
        app_pool(app).close()
