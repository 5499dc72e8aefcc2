"""The local stack: every component a process, started in dependency stages.

Stages (each waits by polling, never by sleeping a fixed time):

1. PostgreSQL, the OpenTelemetry Collector and Jaeger start together; the
   moment PostgreSQL answers, the ``tracelab`` role/database and the schema
   (``python -m services.db.bootstrap``) follow while the others keep starting;
2. once all of that is ready: the five services, together.

A component that exits while starting fails the whole ``up`` at once with its
log's last lines, and everything already started is stopped again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracelab.stack import config as cfg
from tracelab.stack.checks import Check, HttpCheck, PostgresCheck, all_pass, check_from_dict
from tracelab.stack.errors import (
    MissingBinaryError,
    PortInUseError,
    StackError,
)
from tracelab.stack.logtail import prepare_log
from tracelab.stack.paths import repo_root, tools_bin
from tracelab.stack.paths import run_dir as default_run_dir
from tracelab.stack.ports import is_port_free
from tracelab.stack.postgres import PostgresCluster, find_pg_binaries
from tracelab.stack.process import ProcessRef, is_running, spawn, stop_groups
from tracelab.stack.secrets import read_admin_token, stack_secrets
from tracelab.stack.startup import CommandStep, ProcessStep, Step, wait_all
from tracelab.stack.state import clear_state, load_state, save_state, write_pid_file
from tracelab.stack.tools import stale_tools

Echo = Callable[[str], None]
# Seconds a running but unready component gets to recover by itself once the
# components that died are back, before `up` restarts it too.
RECOVERY_GRACE_S = 10.0
# Seconds the ports of a component that died are waited for before `up` says they are taken.
PORT_RELEASE_S = 5.0


@dataclass(frozen=True)
class StackInfo:
    """Where the running stack answers: what ``Stack.up`` returns."""

    run_dir: Path
    components: tuple[str, ...]
    ports: dict[str, int]
    urls: dict[str, str]
    dsn: str | None
    elapsed: float
    already_running: bool = False

    def url(self, name: str) -> str:
        """Return the URL labelled ``name`` (``frontend``, ``jaeger``, ``otlp_http``...)."""
        try:
            return self.urls[name]
        except KeyError:
            raise KeyError(f"no URL {name!r}; known: {', '.join(self.urls)}") from None

    @property
    def log_dir(self) -> Path:
        """Directory of the components' logs, ``<run dir>/logs``."""
        return self.run_dir / "logs"

    @property
    def frontend_url(self) -> str:
        """Base URL of the frontend (the public API)."""
        return self.url("frontend")

    @property
    def jaeger_query_url(self) -> str:
        """Base URL of Jaeger's query service (``/api/v3/services``, ``/api/v3/traces/<id>``...)."""
        return self.url("jaeger")

    @property
    def otlp_http_endpoint(self) -> str:
        """The collector's OTLP/HTTP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
        return self.url("otlp_http")

    @property
    def admin_token(self) -> str | None:
        """The admin token this stack's services accept (``TRACELAB_ADMIN_TOKEN`` wins)."""
        return read_admin_token(self.run_dir, os.environ)


@dataclass(frozen=True)
class ComponentStatus:
    """One row of ``tracelab status``."""

    name: str
    pid: int | None
    alive: bool
    ready: bool
    url: str
    log: Path


class Stack:
    """The local tracelab stack rooted at a checkout.

    ``env`` overlays ``os.environ`` for every component: ports (e.g.
    ``OTELCOL_OTLP_HTTP_PORT``, ``TRACELAB_FRONTEND_PORT``,
    ``TRACELAB_POSTGRES_PORT``) and anything else. ``run_dir`` (or
    ``TRACELAB_RUN_DIR``) relocates ``.run``.
    """

    def __init__(
        self,
        root: Path | None = None,
        *,
        run_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        echo: Echo | None = None,
    ) -> None:
        self.root = (root or repo_root()).resolve()
        self.environ: dict[str, str] = {**os.environ, **(env or {})}
        self.run_dir = (run_dir or default_run_dir(self.root, self.environ)).resolve()
        self.echo: Echo = echo or (lambda _msg: None)
        # One-shot helpers of the current `up` (pg_ctl start, bootstrap): cleaned up on failure.
        self._helpers: list[subprocess.Popen[bytes]] = []

    def secrets(self) -> dict[str, str]:
        """This stack's admin token and auth key (made on first use; the environment wins)."""
        return stack_secrets(self.run_dir, self.environ)

    # -- paths ---------------------------------------------------------------------
    def log_path(self, component: str) -> Path:
        """Return ``<run dir>/logs/<component>.log``."""
        return self.run_dir / "logs" / f"{component}.log"

    @property
    def pg_data_dir(self) -> Path:
        """The PostgreSQL data directory, ``<run dir>/pg``."""
        return self.run_dir / "pg"

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with (self.run_dir / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- public API ----------------------------------------------------------------
    def up(
        self,
        timeout: float = 90.0,
        *,
        components: Sequence[str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        bootstrap: bool | None = None,
    ) -> StackInfo:
        """Start the stack (or the named ``components``) and wait until all are ready.

        ``extra_env`` is applied last to the services' environments. When the same
        selection is already running and healthy, nothing is restarted and the
        returned info has ``already_running=True``; when only ``extra_env``
        differs and the infrastructure is healthy, only the services restart
        (PostgreSQL, collector and Jaeger keep running); any other difference
        restarts the stack. ``bootstrap`` (default: when the db service or its
        bootstrap module exists) runs ``python -m services.db.bootstrap``.
        """
        wanted = self._select(components)
        signature = {
            "components": list(wanted),
            "extra_env": dict(extra_env or {}),
            "ports": cfg.resolve_ports(self.environ),
            "postgres_port": self.environ.get(cfg.POSTGRES_PORT_VAR, ""),
            "infra_env": cfg.infra_config_env(self.root, self.environ),
        }
        with self._lock():
            current = self._healthy_info(signature)
            if current is not None:
                return current
            try:
                repaired = self._repair(signature, extra_env or {}, timeout)
            except StackError as exc:
                # A repair that fails falls back to a clean restart below.
                self.echo(f"restarting only what died failed ({exc}): restarting the stack")
                repaired = None
            if repaired is not None:
                return repaired
            try:
                restarted = self._restart_services_only(signature, extra_env or {}, timeout)
            except BaseException:
                with contextlib.suppress(StackError):  # the original error matters more
                    self._down_locked(timeout=5.0)
                raise
            if restarted is not None:
                return restarted
            if load_state(self.run_dir) is not None or self._pg_cluster_running():
                self.echo("stopping the previous stack first")
                self._down_locked(timeout=10.0)
            started = time.monotonic()
            self._helpers = []
            try:
                return self._start(wanted, signature, extra_env or {}, bootstrap, timeout, started)
            except BaseException:
                self._stop_helpers()
                with contextlib.suppress(StackError):  # the original error matters more
                    self._down_locked(timeout=5.0)
                raise

    def down(self, timeout: float = 10.0) -> list[str]:
        """Stop everything this run directory started; return the names stopped.

        SIGTERM to each process group, SIGKILL after ``timeout`` seconds,
        ``pg_ctl stop -m fast`` for PostgreSQL. Idempotent. Raises StackError if
        a process survives.
        """
        with self._lock():
            return self._down_locked(timeout)

    def status(self) -> list[ComponentStatus]:
        """The recorded components with pid, liveness and readiness (checked now)."""
        state = load_state(self.run_dir)
        if state is None:
            return []
        rows = []
        for name, comp in state.get("components", {}).items():
            ref = _ref(comp)
            if name == cfg.POSTGRES and not (ref is not None and ref.alive()):
                # Restarted outside the runner (pg_ctl restart, a test, a crash
                # and recovery): the data directory names the live server.
                ref = _postmaster_ref(self.pg_data_dir) or ref
            alive = ref is not None and ref.alive()
            checks = [check_from_dict(c) for c in comp.get("checks", [])]
            rows.append(
                ComponentStatus(
                    name=name,
                    pid=ref.pid if ref else None,
                    alive=alive,
                    ready=alive and all_pass(checks),
                    url=comp.get("url", ""),
                    log=Path(comp.get("log", self.log_path(name))),
                )
            )
        return rows

    def is_ready(self) -> bool:
        """True when this run dir's stack is up and every component answers its check."""
        state = load_state(self.run_dir)
        if state is None or not state.get("ready"):
            return False
        rows = self.status()
        return bool(rows) and all(row.alive and row.ready for row in rows)

    def info(self) -> StackInfo | None:
        """The recorded stack (whether or not it is healthy), or None."""
        state = load_state(self.run_dir)
        if state is None:
            return None
        return StackInfo(
            run_dir=self.run_dir,
            components=tuple(
                state.get("signature", {}).get("components") or state.get("components", {})
            ),
            ports=dict(state.get("ports", {})),
            urls=dict(state.get("urls", {})),
            dsn=state.get("dsn"),
            elapsed=float(state.get("ready_seconds") or 0.0),
        )

    # -- up --------------------------------------------------------------------------
    def _select(self, components: Sequence[str] | None) -> tuple[str, ...]:
        if components is None:
            return cfg.ALL_COMPONENTS
        unknown = sorted(set(components) - set(cfg.ALL_COMPONENTS))
        if unknown:
            raise StackError(
                f"unknown component {', '.join(unknown)}: "
                f"choose from {', '.join(cfg.ALL_COMPONENTS)}"
            )
        wanted = set(components)
        if "db" in wanted:
            wanted.add(cfg.POSTGRES)
        return tuple(name for name in cfg.ALL_COMPONENTS if name in wanted)

    def _healthy_info(self, signature: dict[str, Any]) -> StackInfo | None:
        state = load_state(self.run_dir)
        if state is None or state.get("signature") != signature or not self.is_ready():
            return None
        info = self.info()
        assert info is not None
        return dataclasses.replace(info, already_running=True)

    def _repair(
        self, signature: dict[str, Any], extra_env: Mapping[str, str], timeout: float
    ) -> StackInfo | None:
        """Restart only what died in a stack that was up with this very signature.

        None when there is nothing to repair that way (no stack, another
        signature, everything dead). A component that still runs but does not
        answer its readiness check is given :data:`RECOVERY_GRACE_S` to recover
        once the dead ones are back (db answers 503 while PostgreSQL is down
        and recovers by itself), and restarted only if it does not. Nothing
        else is restarted: every component reconnects to the ones it uses, on
        the same ports.
        """
        state = load_state(self.run_dir)
        if state is None or not state.get("ready") or state.get("signature") != signature:
            return None
        rows = {row.name: row for row in self.status()}
        wanted = tuple(signature["components"])
        dead = [name for name in wanted if not (name in rows and rows[name].alive)]
        unready = [
            name for name in wanted if name in rows and rows[name].alive and not rows[name].ready
        ]
        if not (dead or unready) or len(dead) == len(wanted):
            return None
        started = time.monotonic()
        deadline = started + timeout
        if dead:
            self.echo(f"restarting {', '.join(dead)} only; the rest of the stack keeps running")
            self._relaunch(dead, state, extra_env, started, timeout)
        stuck = self._still_unready(
            unready, state, min(deadline, time.monotonic() + RECOVERY_GRACE_S)
        )
        if stuck:
            self.echo(
                f"restarting {', '.join(stuck)}: not ready {RECOVERY_GRACE_S:g}s after the rest"
            )
            self._relaunch(stuck, state, extra_env, started, timeout)
        elapsed = time.monotonic() - started
        state.update(ready=True)
        save_state(self.run_dir, state)
        ports = state["ports"]
        return StackInfo(self.run_dir, wanted, ports, state["urls"], state.get("dsn"), elapsed)

    def _still_unready(self, names: list[str], state: dict[str, Any], until: float) -> list[str]:
        """The components of ``names`` whose readiness checks still fail at ``until``."""
        waiting = list(names)
        while waiting:
            checks = {
                name: [check_from_dict(c) for c in state["components"][name].get("checks", [])]
                for name in waiting
            }
            waiting = [name for name in waiting if not all_pass(checks[name])]
            if not waiting or time.monotonic() >= until:
                break
            time.sleep(0.2)
        return waiting

    def _relaunch(
        self,
        names: list[str],
        state: dict[str, Any],
        extra_env: Mapping[str, str],
        started: float,
        timeout: float,
    ) -> None:
        """Stop what is left of ``names`` and start them again on their recorded ports."""
        recorded = state["components"]
        refs = [ref for name in names if (ref := _ref(recorded.get(name, {}))) is not None]
        if cfg.POSTGRES in names and (live := _postmaster_ref(self.pg_data_dir)) is not None:
            refs.append(live)
        survivors = [proc for proc in stop_groups(refs, timeout=10.0) if is_running(proc)]
        if survivors:
            raise StackError(
                f"processes survived the restart: {', '.join(f'pid {p.pid}' for p in survivors)}"
            )
        ports, dsn = state["ports"], state.get("dsn") or ""
        # A process killed a moment ago may hold its port a little longer (its
        # children closing their sockets): give the ports a few seconds.
        deadline = time.monotonic() + PORT_RELEASE_S
        while True:
            conflicts = cfg.port_conflicts(ports, names)
            if cfg.POSTGRES in names and not is_port_free(ports["postgres"]):
                conflicts.append((ports["postgres"], cfg.POSTGRES, cfg.POSTGRES_PORT_VAR))
            if not conflicts or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if conflicts:
            raise PortInUseError(conflicts)
        state.update(ready=False)
        save_state(self.run_dir, state)
        deadline = started + timeout
        wait = {"deadline": deadline, "timeout": timeout, "echo": self.echo, "origin": started}
        first: list[Step] = []
        for name in names:
            prepare_log(self.log_path(name), name)
            if name == cfg.POSTGRES:
                first.append(self._restart_postgres(ports["postgres"], dsn, state, deadline))
            elif name in (cfg.COLLECTOR, cfg.JAEGER):
                first.append(self._launch_infra(name, ports, state))
        infra = wait_all(first, **wait) if first else []
        later: list[Step] = [
            self._launch_service(name, ports, dsn, extra_env, state)
            for name in cfg.SERVICES
            if name in names
        ]
        if cfg.CONSOLE in names:
            later.append(self._launch_console(ports, state))
        if later:
            wait_all(later, watch=infra, **wait)

    def _restart_postgres(
        self, port: int, dsn: str, state: dict[str, Any], deadline: float
    ) -> CommandStep:
        """``pg_ctl start`` on the existing cluster (its database is kept: no bootstrap)."""
        cluster = PostgresCluster(
            self.pg_data_dir, self.log_path(cfg.POSTGRES), find_pg_binaries(self.environ)
        )
        wait_seconds = max(1, int(deadline - time.monotonic()))

        def record() -> list[Step]:
            self._record(state, cfg.POSTGRES, cluster.postmaster(), [PostgresCheck(dsn)], dsn)
            return []

        return CommandStep(
            cfg.POSTGRES,
            self._helper(cluster.start(port, wait_timeout=wait_seconds)),
            cluster.log_path,
            then=record,
            still_ok=lambda: cluster.postmaster() is not None,
        )

    def _restart_services_only(
        self, signature: dict[str, Any], extra_env: Mapping[str, str], timeout: float
    ) -> StackInfo | None:
        """Relaunch just the services when only ``extra_env`` changed; None when
        that is not possible (another difference, or unhealthy infrastructure)."""
        state = load_state(self.run_dir)
        if state is None or not state.get("ready"):
            return None
        old = dict(state.get("signature") or {})
        if {**old, "extra_env": signature["extra_env"]} != signature:
            return None
        wanted = tuple(signature["components"])
        services = [name for name in cfg.SERVICES if name in wanted]
        rows = {row.name: row for row in self.status()}
        others_ok = all(
            name in rows and rows[name].alive and rows[name].ready
            for name in wanted
            if name not in cfg.SERVICES
        )
        if not services or not others_ok:
            return None
        started = time.monotonic()
        self.echo(f"restarting {', '.join(services)} with the new environment")
        recorded = state["components"]
        refs = [ref for name in services if (ref := _ref(recorded.get(name, {}))) is not None]
        survivors = [proc for proc in stop_groups(refs, timeout=10.0) if is_running(proc)]
        if survivors:
            raise StackError(
                f"processes survived the restart: {', '.join(f'pid {p.pid}' for p in survivors)}"
            )
        state.update(signature=signature, ready=False, started_at=time.time())
        save_state(self.run_dir, state)
        ports, dsn = state["ports"], state.get("dsn") or ""
        for name in services:
            prepare_log(self.log_path(name), name)
        steps = [self._launch_service(name, ports, dsn, extra_env, state) for name in services]
        wait_all(steps, deadline=started + timeout, timeout=timeout, echo=self.echo, origin=started)
        elapsed = time.monotonic() - started
        state.update(ready=True, ready_seconds=round(elapsed, 2))
        save_state(self.run_dir, state)
        return StackInfo(self.run_dir, wanted, ports, state["urls"], state.get("dsn"), elapsed)

    def _pg_cluster_running(self) -> bool:
        return (self.pg_data_dir / "postmaster.pid").exists()

    def _preflight(self, wanted: tuple[str, ...]) -> tuple[dict[str, int], PostgresCluster | None]:
        """Everything that can fail before a single process starts."""
        binaries = {cfg.COLLECTOR: "otelcol", cfg.JAEGER: "jaeger"}
        missing = [
            str(tools_bin(self.root) / binary)
            for name, binary in binaries.items()
            if name in wanted and not (tools_bin(self.root) / binary).is_file()
        ]
        if missing:
            raise MissingBinaryError(f"{', '.join(missing)} not built: run `make tools`")
        if cfg.COLLECTOR in wanted or cfg.JAEGER in wanted:
            self._warn_if_tools_stale()
        if (
            cfg.CONSOLE in wanted
            and not (self.root / "tracelab" / "console" / "__main__.py").is_file()
        ):
            raise StackError("the console is missing (tracelab/console/__main__.py)")
        for name in cfg.SERVICES:
            if name in wanted and not (self.root / "services" / name / "__main__.py").is_file():
                raise StackError(
                    f"service {name!r} is missing (services/{name}/__main__.py): "
                    "start only the infrastructure with `tracelab up --infra-only`"
                )
        ports = cfg.resolve_ports(self.environ)
        conflicts = cfg.port_conflicts(ports, wanted)
        cluster = None
        if cfg.POSTGRES in wanted:
            pg_port = cfg.choose_postgres_port(self.environ)
            if cfg.POSTGRES_PORT_VAR in self.environ and not is_port_free(pg_port):
                conflicts.append((pg_port, "postgres", cfg.POSTGRES_PORT_VAR))
            ports["postgres"] = pg_port
            cluster = PostgresCluster(
                self.pg_data_dir, self.log_path(cfg.POSTGRES), find_pg_binaries(self.environ)
            )
            cluster.check_prerequisites()
        if conflicts:
            raise PortInUseError(conflicts)
        return ports, cluster

    def _warn_if_tools_stale(self) -> None:
        """Say so when a pin or the manifest changed since the tools were built."""
        try:
            stale = stale_tools(self.root)
        except StackError:
            return
        if stale:
            self.echo(f"warning: {', '.join(stale)} out of date with infra/: run `make tools`")

    def _start(
        self,
        wanted: tuple[str, ...],
        signature: dict[str, Any],
        extra_env: Mapping[str, str],
        bootstrap: bool | None,
        timeout: float,
        started: float,
    ) -> StackInfo:
        deadline = started + timeout
        ports, cluster = self._preflight(wanted)
        dsn = cfg.database_url(ports["postgres"]) if cluster else None
        urls = cfg.stack_urls(ports, wanted, dsn)
        for name in wanted:
            prepare_log(self.log_path(name), name)
        state: dict[str, Any] = {
            "root": str(self.root),
            "run_dir": str(self.run_dir),
            "signature": signature,
            "ports": ports,
            "urls": urls,
            "dsn": dsn,
            "ready": False,
            "started_at": time.time(),
            "components": {},
        }
        save_state(self.run_dir, state)
        self.echo(f"starting {', '.join(wanted)}")
        wait = {"deadline": deadline, "timeout": timeout, "echo": self.echo, "origin": started}

        # Stage 1: PostgreSQL, collector and Jaeger together; the database
        # setup follows PostgreSQL as soon as it answers.
        stage1: list[Step] = [
            self._launch_infra(name, ports, state)
            for name in (cfg.COLLECTOR, cfg.JAEGER)
            if name in wanted
        ]
        if cluster is not None:
            assert dsn is not None
            cluster.initialize()
            stage1.append(
                self._start_postgres(
                    cluster, ports["postgres"], dsn, bootstrap, wanted, state, deadline
                )
            )
        infra = wait_all(stage1, **wait)

        # Stage 2: the services and the console, together.
        services = [
            self._launch_service(name, ports, dsn or "", extra_env, state)
            for name in cfg.SERVICES
            if name in wanted
        ]
        if cfg.CONSOLE in wanted:
            services.append(self._launch_console(ports, state))
        wait_all(services, watch=infra, **wait)

        elapsed = time.monotonic() - started
        state["ready"] = True
        state["ready_seconds"] = round(elapsed, 2)
        save_state(self.run_dir, state)
        return StackInfo(self.run_dir, wanted, ports, urls, dsn, elapsed)

    def _record(
        self,
        state: dict[str, Any],
        name: str,
        ref: ProcessRef | None,
        checks: list[Check],
        url: str,
    ) -> None:
        state["components"][name] = {
            "pid": ref.pid if ref else None,
            "create_time": ref.create_time if ref else None,
            "checks": [check.to_dict() for check in checks],
            "url": url,
            "log": str(self.log_path(name)),
        }
        if ref is not None:
            write_pid_file(self.run_dir, name, ref.pid)
        save_state(self.run_dir, state)

    def _launch(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        checks: list[Check],
        url: str,
        state: dict[str, Any],
    ) -> ProcessStep:
        proc = spawn(argv, env=env, cwd=self.root, log_path=self.log_path(name))
        ref = ProcessRef.of(proc.pid) or ProcessRef(proc.pid, 0.0)
        self._record(state, name, ref, checks, url)
        return ProcessStep(name, proc, self.log_path(name), checks=checks)

    def _launch_infra(self, name: str, ports: dict[str, int], state: dict[str, Any]) -> ProcessStep:
        if name == cfg.COLLECTOR:
            return self._launch(
                name,
                [
                    str(tools_bin(self.root) / "otelcol"),
                    "--config",
                    str(self.root / cfg.INFRA_CONFIGS[cfg.COLLECTOR]),
                ],
                cfg.collector_env(ports, self.environ, self.run_dir / "otelcol-queue"),
                [HttpCheck(cfg.http_url(ports["collector_health"], "/"))],
                cfg.http_url(ports["collector_otlp_http"]),
                state,
            )
        return self._launch(
            name,
            [
                str(tools_bin(self.root) / "jaeger"),
                "--config",
                str(self.root / cfg.INFRA_CONFIGS[cfg.JAEGER]),
            ],
            cfg.jaeger_env(ports, self.environ),
            [
                HttpCheck(cfg.http_url(ports["jaeger_health"], "/status")),
                HttpCheck(cfg.http_url(ports["jaeger_query"], "/api/v3/services")),
            ],
            cfg.http_url(ports["jaeger_query"]),
            state,
        )

    def _launch_service(
        self,
        name: str,
        ports: dict[str, int],
        dsn: str,
        extra_env: Mapping[str, str],
        state: dict[str, Any],
    ) -> ProcessStep:
        return self._launch(
            name,
            [sys.executable, "-m", f"services.{name}"],
            cfg.service_env(name, ports, dsn, self.environ, extra_env, self.secrets()),
            [HttpCheck(cfg.http_url(ports[name], "/readyz"))],
            cfg.http_url(ports[name]),
            state,
        )

    def _launch_console(self, ports: dict[str, int], state: dict[str, Any]) -> ProcessStep:
        return self._launch(
            cfg.CONSOLE,
            [sys.executable, "-m", "tracelab.console"],
            cfg.console_env(ports, self.run_dir, self.environ, self.secrets()),
            [HttpCheck(cfg.http_url(ports["console"], "/readyz"))],
            cfg.http_url(ports["console"]),
            state,
        )

    def _start_postgres(
        self,
        cluster: PostgresCluster,
        port: int,
        dsn: str,
        bootstrap: bool | None,
        wanted: tuple[str, ...],
        state: dict[str, Any],
        deadline: float,
    ) -> CommandStep:
        """``pg_ctl start -w`` as a step; when it is done: role, database, bootstrap."""
        wait_seconds = max(1, int(deadline - time.monotonic()))

        def database_setup() -> list[Step]:
            """Record the server, create role and database, start the bootstrap."""
            self._record(state, cfg.POSTGRES, cluster.postmaster(), [PostgresCheck(dsn)], dsn)
            cluster.create_app_database(port)
            if not self._should_bootstrap(bootstrap, wanted):
                return []
            return [self._start_bootstrap(dsn)]

        return CommandStep(
            cfg.POSTGRES,
            self._helper(cluster.start(port, wait_timeout=wait_seconds)),
            cluster.log_path,
            then=database_setup,
            still_ok=lambda: cluster.postmaster() is not None,
        )

    def _should_bootstrap(self, bootstrap: bool | None, wanted: tuple[str, ...]) -> bool:
        if bootstrap is not None:
            return bootstrap
        module = self.root / "services" / "db"
        return (
            "db" in wanted
            or (module / "bootstrap.py").is_file()
            or (module / "bootstrap" / "__main__.py").is_file()
        )

    def _start_bootstrap(self, dsn: str) -> CommandStep:
        """Schema and seed: ``python -m services.db.bootstrap`` against ``dsn``, as a step."""
        log = self.log_path("bootstrap")
        env = {**self.environ, "DATABASE_URL": dsn, "PYTHONUNBUFFERED": "1"}
        prepare_log(log, "bootstrap")
        proc = spawn(
            [sys.executable, "-m", "services.db.bootstrap"], env=env, cwd=self.root, log_path=log
        )
        return CommandStep(
            "database bootstrap (python -m services.db.bootstrap)", self._helper(proc), log
        )

    def _helper(self, proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        self._helpers.append(proc)
        return proc

    def _stop_helpers(self) -> None:
        """After a failed `up`: let a pending ``pg_ctl start`` finish (so the server it
        starts is known and gets stopped), stop any other helper."""
        for proc in self._helpers:
            if proc.poll() is not None:
                continue
            if "pg_ctl" in " ".join(map(str, proc.args)):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=15)
            ref = ProcessRef.of(proc.pid)
            if ref is not None:
                stop_groups([ref], timeout=2.0)
        self._helpers = []

    # -- down --------------------------------------------------------------------------
    def _down_locked(self, timeout: float) -> list[str]:
        state = load_state(self.run_dir) or {}
        recorded: dict[str, Any] = state.get("components", {})
        stopped: list[str] = []
        survivors = []
        phases = (cfg.TOOLING + cfg.SERVICES, (cfg.COLLECTOR, cfg.JAEGER))
        for phase in phases:
            refs = {
                name: ref
                for name in phase
                if name in recorded and (ref := _ref(recorded[name])) is not None and ref.alive()
            }
            survivors += stop_groups(refs.values(), timeout=timeout)
            stopped += list(refs)
        if self._stop_postgres(timeout):
            stopped.append(cfg.POSTGRES)
        leftovers = [
            f"{name} (pid {ref.pid})"
            for name, comp in recorded.items()
            if name != cfg.POSTGRES and (ref := _ref(comp)) is not None and ref.alive()
        ]
        leftovers += [f"pid {proc.pid}" for proc in survivors if is_running(proc)]
        if leftovers:
            raise StackError(f"processes survived `down`: {', '.join(sorted(set(leftovers)))}")
        clear_state(self.run_dir)
        return stopped

    def _stop_postgres(self, timeout: float) -> bool:
        if not self._pg_cluster_running():
            return False
        try:
            binaries = find_pg_binaries(self.environ)
        except MissingBinaryError:
            binaries = None
        if binaries is None:
            cluster_ref = _postmaster_ref(self.pg_data_dir)
            if cluster_ref is not None:
                stop_groups([cluster_ref], timeout=timeout)
                return True
            return False
        cluster = PostgresCluster(self.pg_data_dir, self.log_path(cfg.POSTGRES), binaries)
        ref = cluster.postmaster()
        if ref is None:
            return False
        cluster.stop(timeout=max(1, int(timeout)))
        if ref.alive():
            raise StackError(f"postgres (pid {ref.pid}) survived `pg_ctl stop -m fast`")
        return True


def _ref(component: Mapping[str, Any]) -> ProcessRef | None:
    pid, created = component.get("pid"), component.get("create_time")
    if not pid:
        return None
    return ProcessRef(int(pid), float(created or 0.0))


def _postmaster_ref(data_dir: Path) -> ProcessRef | None:
    try:
        first = (data_dir / "postmaster.pid").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return ProcessRef.of(int(first)) if first.strip().isdigit() else None
