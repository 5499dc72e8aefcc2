"""The hooks of the PostgreSQL row: what starting the database is beyond one process.

A fresh stack runs initdb once, starts the server with ``pg_ctl start -w``
(clearing the lock files of a killed server first), creates the ``tracelab``
role and database and runs the schema and seed (``python -m
services.db.bootstrap``) the moment the server answers. A restart of just
PostgreSQL keeps its data: only ``pg_ctl start``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tracelab.stack.component import Component, Launch, Site
from tracelab.stack.errors import MissingBinaryError, StackError
from tracelab.stack.logtail import prepare_log
from tracelab.stack.postgres import PostgresCluster, find_pg_binaries, postmaster_ref
from tracelab.stack.process import ProcessRef, spawn, stop_groups
from tracelab.stack.startup import CommandStep, Step

# Seconds a pending `pg_ctl start` may finish after a failed `up`, so the
# server it starts is known and stopped.
PG_CTL_GRACE_S = 15.0
BOOTSTRAP = "bootstrap"


def data_dir(run_dir: Path) -> Path:
    """The PostgreSQL data directory, ``<run dir>/pg``."""
    return run_dir / "pg"


class PostgresServer:
    """Hooks of the ``postgres`` row (see :class:`tracelab.stack.component.Hooks`)."""

    def cluster(self, row: Component, site: Site) -> PostgresCluster:
        """The cluster of ``site``'s run directory (raises when initdb/pg_ctl are missing)."""
        return PostgresCluster(
            data_dir(site.run_dir), site.log_path(row.name), find_pg_binaries(site.environ)
        )

    def preflight(self, row: Component, site: Site) -> None:
        """The server binaries exist and the server user can work in the run directory."""
        self.cluster(row, site).check_prerequisites()

    def start(self, row: Component, launch: Launch, fresh: bool) -> Step:
        """``pg_ctl start -w`` as a step; on a fresh stack initdb first, then the database."""
        cluster = self.cluster(row, launch.site)
        if fresh:
            cluster.initialize()
        (port_key,) = row.ports
        port, dsn = launch.ports[port_key], launch.dsn
        assert dsn is not None
        wait_seconds = max(1, int(launch.deadline - time.monotonic()))

        def database_setup() -> list[Step]:
            """Record the server; on a fresh stack: role, database, then the bootstrap."""
            checks = row.checks(launch.ports, dsn)
            launch.record(row.name, cluster.postmaster(), checks, row.status_url(launch.ports, dsn))
            if not fresh:
                return []
            cluster.create_app_database(port)
            if not _should_bootstrap(launch):
                return []
            return [_start_bootstrap(launch, dsn)]

        pg_ctl = launch.helper(cluster.start(port, wait_timeout=wait_seconds), PG_CTL_GRACE_S)
        return CommandStep(
            row.name,
            pg_ctl,
            cluster.log_path,
            then=database_setup,
            still_ok=lambda: cluster.postmaster() is not None,
        )

    def found(self, row: Component, site: Site) -> ProcessRef | None:
        """The server the data directory names (restarted by pg_ctl, a test, a recovery)."""
        return postmaster_ref(data_dir(site.run_dir))

    def present(self, row: Component, site: Site) -> bool:
        """True while the data directory says a server runs (or ran and was killed)."""
        return (data_dir(site.run_dir) / "postmaster.pid").exists()

    def stop(self, row: Component, site: Site, timeout: float) -> bool:
        """``pg_ctl stop -m fast`` (the process group when pg_ctl is gone); True if it ran."""
        if not self.present(row, site):
            return False
        try:
            cluster = self.cluster(row, site)
        except MissingBinaryError:
            ref = self.found(row, site)
            if ref is None:
                return False
            stop_groups([ref], timeout=timeout)
            return True
        ref = cluster.postmaster()
        if ref is None:
            return False
        cluster.stop(timeout=max(1, int(timeout)))
        if ref.alive():
            raise StackError(f"postgres (pid {ref.pid}) survived `pg_ctl stop -m fast`")
        return True


def _should_bootstrap(launch: Launch) -> bool:
    if launch.bootstrap is not None:
        return launch.bootstrap
    module = launch.site.root / "services" / "db"
    return (
        "db" in launch.wanted
        or (module / "bootstrap.py").is_file()
        or (module / "bootstrap" / "__main__.py").is_file()
    )


def _start_bootstrap(launch: Launch, dsn: str) -> CommandStep:
    """Schema and seed: ``python -m services.db.bootstrap`` against ``dsn``, as a step."""
    log = launch.site.log_path(BOOTSTRAP)
    env = {**launch.site.environ, "DATABASE_URL": dsn, "PYTHONUNBUFFERED": "1"}
    prepare_log(log, BOOTSTRAP)
    proc = spawn(
        [sys.executable, "-m", "services.db.bootstrap"],
        env=env,
        cwd=launch.site.root,
        log_path=log,
    )
    return CommandStep(
        "database bootstrap (python -m services.db.bootstrap)", launch.helper(proc, 0.0), log
    )
