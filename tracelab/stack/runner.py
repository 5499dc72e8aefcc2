"""The local stack: every component a process, started in dependency stages.

The components are the rows of :data:`tracelab.stack.config.COMPONENTS`; this
module has one launcher, waiter, stopper and repairer over them. Stages
(each waits by polling, never by sleeping a fixed time):

1. PostgreSQL, the OpenTelemetry Collector and Jaeger start together; the
   moment PostgreSQL answers, the ``tracelab`` role/database and the schema
   (``python -m services.db.bootstrap``) follow while the others keep starting
   (the hooks of its row, :mod:`tracelab.stack.pgserver`);
2. once all of that is ready: the five services and the console, together.

A component that exits while starting fails the whole ``up`` at once with its
log's last lines, and everything already started is stopped again.

``.run/state.json`` is read once per operation (:class:`_Run`); what the
operation writes since is kept in memory, so no step reads it again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.common.config import ConfigError
from services.common.launch import mode as instrumentation_mode
from services.common.scenarios import CATALOGUE, SCENARIOS_ENV, UnknownScenario
from tracelab.stack import config as cfg
from tracelab.stack.checks import Check, all_pass, check_from_dict
from tracelab.stack.component import KINDS, Component, Launch, PythonModule, Site, Tool
from tracelab.stack.errors import MissingBinaryError, PortInUseError, StackError
from tracelab.stack.logtail import prepare_log
from tracelab.stack.paths import repo_root
from tracelab.stack.paths import run_dir as default_run_dir
from tracelab.stack.pgserver import data_dir
from tracelab.stack.process import ProcessRef, is_running, spawn, stop_groups
from tracelab.stack.secrets import read_admin_token, stack_secrets
from tracelab.stack.startup import ProcessStep, Step, wait_all
from tracelab.stack.state import (
    Recorded,
    StackState,
    clear_state,
    read_state,
    write_pid_file,
    write_state,
)
from tracelab.stack.tools import stale_tools

Echo = Callable[[str], None]
# Wraps a service's command line (service name, argv) -> argv: e.g. under valgrind.
Wrapper = Callable[[str, list[str]], list[str]]
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


def _check_service_env(environ: Mapping[str, str]) -> None:
    """A typo in ``TRACELAB_SCENARIOS`` or ``TRACELAB_INSTRUMENTATION`` stops ``up``
    before anything starts.

    Every service would refuse to start with it; saying so once is clearer.
    """
    try:
        CATALOGUE.parse(environ.get(SCENARIOS_ENV, ""), SCENARIOS_ENV)
        instrumentation_mode(environ)
    except (UnknownScenario, ConfigError) as exc:
        raise StackError(str(exc)) from None


class _Run:
    """One operation on a run directory: the state read once, and every write since."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.state: StackState | None = read_state(site.run_dir)
        # One-shot helpers (pg_ctl start, bootstrap) and the seconds each may finish in.
        self.helpers: list[tuple[subprocess.Popen[bytes], float]] = []

    def save(self, state: StackState) -> StackState:
        """Write ``state`` and keep it as the current one."""
        self.state = write_state(self.site.run_dir, state)
        return state

    def update(self, **changes: Any) -> StackState:
        """Write the current state with ``changes``."""
        assert self.state is not None
        return self.save(dataclasses.replace(self.state, **changes))

    def record(self, name: str, ref: ProcessRef | None, checks: list[Check], url: str) -> None:
        """Keep component ``name`` (its process, checks, URL and log) in the state file."""
        assert self.state is not None
        recorded = Recorded(
            pid=ref.pid if ref else None,
            started=ref.started if ref else None,
            checks=tuple(check.to_dict() for check in checks),
            url=url,
            log=str(self.site.log_path(name)),
        )
        if ref is not None:
            write_pid_file(self.site.run_dir, name, ref.pid)
        self.save(self.state.with_component(name, recorded))

    def helper(self, proc: subprocess.Popen[bytes], grace: float) -> subprocess.Popen[bytes]:
        """Keep a one-shot helper, stopped by :meth:`stop_helpers` if `up` fails."""
        self.helpers.append((proc, grace))
        return proc

    def stop_helpers(self) -> None:
        """After a failed `up`: give each pending helper its grace (a ``pg_ctl start``
        finishing, so the server it starts is known and gets stopped), then stop it."""
        for proc, grace in self.helpers:
            if proc.poll() is not None:
                continue
            if grace:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=grace)
            ref = ProcessRef.of(proc.pid)
            if ref is not None:
                stop_groups([ref], timeout=2.0)
        self.helpers = []


class Stack:
    """The local tracelab stack rooted at a checkout.

    ``env`` overlays ``os.environ`` for every component: ports (e.g.
    ``OTELCOL_OTLP_HTTP_PORT``, ``TRACELAB_FRONTEND_PORT``,
    ``TRACELAB_POSTGRES_PORT``) and anything else. ``run_dir`` (or
    ``TRACELAB_RUN_DIR``) relocates ``.run``. ``service_wrapper`` rewrites the
    five services' command lines (``tracelab bench-exact`` runs them under
    callgrind); the infrastructure and the console always run as they are.
    """

    def __init__(
        self,
        root: Path | None = None,
        *,
        run_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        echo: Echo | None = None,
        service_wrapper: Wrapper | None = None,
    ) -> None:
        self.root = (root or repo_root()).resolve()
        self.service_wrapper = service_wrapper
        self.environ: dict[str, str] = {**os.environ, **(env or {})}
        self.run_dir = (run_dir or default_run_dir(self.root, self.environ)).resolve()
        self.echo: Echo = echo or (lambda _msg: None)
        self.site = Site(self.root, self.run_dir, self.environ)

    def secrets(self) -> dict[str, str]:
        """This stack's admin token and auth key (made on first use; the environment wins)."""
        return stack_secrets(self.run_dir, self.environ)

    def log_path(self, component: str) -> Path:
        """Return ``<run dir>/logs/<component>.log``."""
        return self.site.log_path(component)

    @property
    def pg_data_dir(self) -> Path:
        """The PostgreSQL data directory, ``<run dir>/pg``."""
        return data_dir(self.run_dir)

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
        _check_service_env({**self.environ, **(extra_env or {})})
        wanted = self._select(components)
        extra = dict(extra_env or {})
        signature = self._signature(wanted, extra)
        with self._lock():
            run = _Run(self.site)
            current = self._healthy_info(run.state, signature)
            if current is not None:
                return current
            try:
                repaired = self._repair(run, signature, extra, timeout)
            except StackError as exc:
                # A repair that fails falls back to a clean restart below.
                self.echo(f"restarting only what died failed ({exc}): restarting the stack")
                repaired = None
            if repaired is not None:
                return repaired
            try:
                restarted = self._restart_services_only(run, signature, extra, timeout)
            except BaseException:
                with contextlib.suppress(StackError):  # the original error matters more
                    self._down(run, timeout=5.0)
                raise
            if restarted is not None:
                return restarted
            if run.state is not None or any(
                c.hooks.present(c, self.site) for c in cfg.COMPONENTS if c.hooks
            ):
                self.echo("stopping the previous stack first")
                self._down(run, timeout=10.0)
            started = time.monotonic()
            run.helpers = []
            try:
                return self._start(run, wanted, signature, extra, bootstrap, timeout, started)
            except BaseException:
                run.stop_helpers()
                with contextlib.suppress(StackError):  # the original error matters more
                    self._down(run, timeout=5.0)
                raise

    def down(self, timeout: float = 10.0) -> list[str]:
        """Stop everything this run directory started; return the names stopped.

        SIGTERM to each process group, SIGKILL after ``timeout`` seconds,
        ``pg_ctl stop -m fast`` for PostgreSQL. Idempotent. Raises StackError if
        a process survives.
        """
        with self._lock():
            return self._down(_Run(self.site), timeout)

    def status(self) -> list[ComponentStatus]:
        """The recorded components with pid, liveness and readiness (checked now)."""
        return self._status(read_state(self.run_dir))

    def is_ready(self) -> bool:
        """True when this run dir's stack is up and every component answers its check."""
        return self._is_ready(read_state(self.run_dir))

    def info(self) -> StackInfo | None:
        """The recorded stack (whether or not it is healthy), or None."""
        return self._info(read_state(self.run_dir))

    # -- reading a state ---------------------------------------------------------------
    def _status(self, state: StackState | None) -> list[ComponentStatus]:
        if state is None:
            return []
        rows = []
        for name, recorded in state.components.items():
            ref = recorded.ref
            row = cfg.BY_NAME.get(name)
            if row is not None and row.hooks and not (ref is not None and ref.alive()):
                # Restarted outside the runner (pg_ctl restart, a test, a crash
                # and recovery): the component itself names its live process.
                ref = row.hooks.found(row, self.site) or ref
            alive = ref is not None and ref.alive()
            checks = [check_from_dict(dict(c)) for c in recorded.checks]
            rows.append(
                ComponentStatus(
                    name=name,
                    pid=ref.pid if ref else None,
                    alive=alive,
                    ready=alive and all_pass(checks),
                    url=recorded.url,
                    log=Path(recorded.log or self.log_path(name)),
                )
            )
        return rows

    def _is_ready(self, state: StackState | None) -> bool:
        if state is None or not state.ready:
            return False
        rows = self._status(state)
        return bool(rows) and all(row.alive and row.ready for row in rows)

    def _info(self, state: StackState | None) -> StackInfo | None:
        if state is None:
            return None
        return self._info_of(state, float(state.ready_seconds or 0.0))

    def _info_of(self, state: StackState, elapsed: float) -> StackInfo:
        return StackInfo(
            run_dir=self.run_dir,
            components=tuple((state.signature or {}).get("components") or state.components),
            ports=dict(state.ports),
            urls=dict(state.urls),
            dsn=state.dsn,
            elapsed=elapsed,
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
        wanted: set[str] = set()
        pending = list(components)
        while pending:  # with what each needs
            name = pending.pop()
            if name not in wanted:
                wanted.add(name)
                pending.extend(_row(name).needs)
        return tuple(name for name in cfg.ALL_COMPONENTS if name in wanted)

    def _signature(self, wanted: tuple[str, ...], extra_env: Mapping[str, str]) -> dict[str, Any]:
        """What a running stack must have been started with to be reused as it is."""
        return {
            "components": list(wanted),
            "extra_env": dict(extra_env),
            "ports": cfg.resolve_ports(self.environ),
            "postgres_port": self.environ.get(cfg.POSTGRES_PORT_VAR, ""),
            "infra_env": cfg.infra_config_env(self.root, self.environ),
        }

    def _healthy_info(
        self, state: StackState | None, signature: dict[str, Any]
    ) -> StackInfo | None:
        if state is None or state.signature != signature or not self._is_ready(state):
            return None
        info = self._info(state)
        assert info is not None
        return dataclasses.replace(info, already_running=True)

    def _repair(
        self, run: _Run, signature: dict[str, Any], extra_env: Mapping[str, str], timeout: float
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
        state = run.state
        if state is None or not state.ready or state.signature != signature:
            return None
        rows = {row.name: row for row in self._status(state)}
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
            self._relaunch(run, dead, extra_env, started, timeout)
        stuck = _still_unready(run, unready, min(deadline, time.monotonic() + RECOVERY_GRACE_S))
        if stuck:
            self.echo(
                f"restarting {', '.join(stuck)}: not ready {RECOVERY_GRACE_S:g}s after the rest"
            )
            self._relaunch(run, stuck, extra_env, started, timeout)
        elapsed = time.monotonic() - started
        state = run.update(ready=True)
        return self._info_of(state, elapsed)

    def _relaunch(
        self,
        run: _Run,
        names: list[str],
        extra_env: Mapping[str, str],
        started: float,
        timeout: float,
    ) -> None:
        """Stop what is left of ``names`` and start them again on their recorded ports."""
        assert run.state is not None
        self._stop_recorded(run.state, names, also_found=True)
        ports = dict(run.state.ports)
        # A process killed a moment ago may hold its port a little longer (its
        # children closing their sockets): give the ports a few seconds.
        deadline = time.monotonic() + PORT_RELEASE_S
        while True:
            conflicts = cfg.port_conflicts(ports, names)
            if not conflicts or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if conflicts:
            raise PortInUseError(conflicts)
        state = run.update(ready=False)
        for name in names:
            prepare_log(self.log_path(name), name)
        launch = self._launch(run, ports, state.dsn, tuple(names), started + timeout, extra_env)
        self._start_stages(run, names, launch, fresh=False, started=started, timeout=timeout)

    def _restart_services_only(
        self, run: _Run, signature: dict[str, Any], extra_env: Mapping[str, str], timeout: float
    ) -> StackInfo | None:
        """Relaunch just the services when only ``extra_env`` changed; None when
        that is not possible (another difference, or unhealthy infrastructure)."""
        state = run.state
        if state is None or not state.ready:
            return None
        old = dict(state.signature or {})
        if {**old, "extra_env": signature["extra_env"]} != signature:
            return None
        wanted = tuple(signature["components"])
        services = [name for name in wanted if _row(name).kind == "service"]
        rows = {row.name: row for row in self._status(state)}
        others_ok = all(
            name in rows and rows[name].alive and rows[name].ready
            for name in wanted
            if name not in services
        )
        if not services or not others_ok:
            return None
        started = time.monotonic()
        self.echo(f"restarting {', '.join(services)} with the new environment")
        self._stop_recorded(state, services, also_found=False)
        state = run.update(signature=signature, ready=False, started_at=time.time())
        for name in services:
            prepare_log(self.log_path(name), name)
        launch = self._launch(run, state.ports, state.dsn, wanted, started + timeout, extra_env)
        self._start_stages(run, services, launch, fresh=True, started=started, timeout=timeout)
        elapsed = time.monotonic() - started
        state = run.update(ready=True, ready_seconds=round(elapsed, 2))
        return self._info_of(state, elapsed)

    def _stop_recorded(self, state: StackState, names: list[str], *, also_found: bool) -> None:
        """Stop the recorded processes of ``names`` (and, with ``also_found``, the live
        ones their hooks find); raise when one survives."""
        refs = [ref for name in names if (ref := _recorded_ref(state, name)) is not None]
        if also_found:
            for row in map(_row, names):
                if row.hooks is not None and (live := row.hooks.found(row, self.site)):
                    refs.append(live)
        survivors = [proc for proc in stop_groups(refs, timeout=10.0) if is_running(proc)]
        if survivors:
            raise StackError(
                f"processes survived the restart: {', '.join(f'pid {p.pid}' for p in survivors)}"
            )

    def _preflight(self, wanted: tuple[str, ...]) -> dict[str, int]:
        """Everything that can fail before a single process starts; returns the ports."""
        rows = [_row(name) for name in wanted]
        tools = [row.command for row in rows if isinstance(row.command, Tool)]
        missing = [
            str(tool.path(self.root)) for tool in tools if not tool.path(self.root).is_file()
        ]
        if missing:
            raise MissingBinaryError(f"{', '.join(missing)} not built: run `make tools`")
        if tools:
            self._warn_if_tools_stale()
        for row in rows:
            module = row.command
            if isinstance(module, PythonModule) and not (self.root / module.source()).is_file():
                raise StackError(f"{module.what} is missing ({module.source()}){module.hint}")
        ports = cfg.resolve_ports(self.environ)
        for row in rows:
            for key, spec in row.ports.items():
                if spec.floating:
                    ports[key] = cfg.resolve_port(spec, self.environ)
        conflicts = cfg.port_conflicts(ports, wanted)
        for row in rows:
            if row.hooks is not None:
                row.hooks.preflight(row, self.site)
        if conflicts:
            raise PortInUseError(conflicts)
        return ports

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
        run: _Run,
        wanted: tuple[str, ...],
        signature: dict[str, Any],
        extra_env: Mapping[str, str],
        bootstrap: bool | None,
        timeout: float,
        started: float,
    ) -> StackInfo:
        ports = self._preflight(wanted)
        dsn = cfg.stack_dsn(ports, wanted)
        urls = cfg.stack_urls(ports, wanted, dsn)
        for name in wanted:
            prepare_log(self.log_path(name), name)
        run.save(
            StackState(
                root=str(self.root),
                run_dir=str(self.run_dir),
                signature=signature,
                ports=ports,
                urls=urls,
                dsn=dsn,
                ready=False,
                started_at=time.time(),
            )
        )
        self.echo(f"starting {', '.join(wanted)}")
        launch = self._launch(run, ports, dsn, wanted, started + timeout, extra_env, bootstrap)
        self._start_stages(run, wanted, launch, fresh=True, started=started, timeout=timeout)
        elapsed = time.monotonic() - started
        run.update(ready=True, ready_seconds=round(elapsed, 2))
        return StackInfo(self.run_dir, wanted, ports, urls, dsn, elapsed)

    def _launch(
        self,
        run: _Run,
        ports: Mapping[str, int],
        dsn: str | None,
        wanted: tuple[str, ...],
        deadline: float,
        extra_env: Mapping[str, str],
        bootstrap: bool | None = None,
    ) -> Launch:
        return Launch(
            site=self.site,
            ports=ports,
            dsn=dsn,
            wanted=wanted,
            deadline=deadline,
            extra_env=extra_env,
            bootstrap=bootstrap,
            record=run.record,
            helper=run.helper,
        )

    def _start_stages(
        self,
        run: _Run,
        names: Sequence[str],
        launch: Launch,
        *,
        fresh: bool,
        started: float,
        timeout: float,
    ) -> None:
        """Start ``names`` stage by stage; each stage once the ones before are ready.

        Within a stage the plain processes start first, so they are on their way
        while a component with hooks (PostgreSQL's initdb) does its slower work.
        """
        wait = {"deadline": started + timeout, "timeout": timeout, "origin": started}
        ready: list[Step] = []
        for stage in cfg.stages(names):
            rows = sorted((_row(name) for name in stage), key=lambda row: row.hooks is not None)
            steps = [self._start_one(run, row, launch, fresh) for row in rows]
            ready += wait_all(steps, watch=ready, echo=self.echo, **wait)

    def _start_one(self, run: _Run, row: Component, launch: Launch, fresh: bool) -> Step:
        if row.hooks is not None:
            return row.hooks.start(row, launch, fresh)
        assert row.command is not None and row.env is not None
        log = self.log_path(row.name)
        checks = row.checks(launch.ports, launch.dsn)
        if isinstance(row.command, PythonModule):
            argv, env = row.command.command(row.env(launch))
        else:
            argv, env = row.command.argv(self.site), row.env(launch)
        if self.service_wrapper is not None and row.kind == "service":
            argv = self.service_wrapper(row.name, argv)
        proc = spawn(argv, env=env, cwd=self.root, log_path=log)
        ref = ProcessRef.of(proc.pid) or ProcessRef(proc.pid, 0.0)
        run.record(row.name, ref, checks, row.status_url(launch.ports, launch.dsn))
        return ProcessStep(row.name, proc, log, checks=checks)

    # -- down --------------------------------------------------------------------------
    def _down(self, run: _Run, timeout: float) -> list[str]:
        """Stop in reverse start order: each stage's processes together, then its hooks.

        Within a stage, the kinds in reverse (the console before the services).
        """
        state = run.state or StackState()
        stopped: list[str] = []
        survivors = []
        for stage in reversed(cfg.stages(cfg.ALL_COMPONENTS)):
            names = sorted(stage, key=lambda name: -KINDS.index(_row(name).kind))
            refs = {
                name: ref
                for name in names
                if _row(name).hooks is None
                and (ref := _recorded_ref(state, name)) is not None
                and ref.alive()
            }
            survivors += stop_groups(refs.values(), timeout=timeout)
            stopped += list(refs)
            for row in map(_row, names):
                if row.hooks is not None and row.hooks.stop(row, self.site, timeout):
                    stopped.append(row.name)
        leftovers = [
            f"{name} (pid {ref.pid})"
            for name in state.components
            if not (name in cfg.BY_NAME and _row(name).hooks is not None)
            and (ref := _recorded_ref(state, name)) is not None
            and ref.alive()
        ]
        leftovers += [f"pid {proc.pid}" for proc in survivors if is_running(proc)]
        if leftovers:
            raise StackError(f"processes survived `down`: {', '.join(sorted(set(leftovers)))}")
        clear_state(self.run_dir)
        run.state = None
        return stopped


def _row(name: str) -> Component:
    return cfg.BY_NAME[name]


def _recorded_ref(state: StackState, name: str) -> ProcessRef | None:
    recorded = state.components.get(name)
    return recorded.ref if recorded is not None else None


def _still_unready(run: _Run, names: list[str], until: float) -> list[str]:
    """The components of ``names`` whose readiness checks still fail at ``until``."""
    assert run.state is not None
    components = run.state.components
    waiting = list(names)
    while waiting:
        checks = {
            name: [check_from_dict(dict(c)) for c in components[name].checks] for name in waiting
        }
        waiting = [name for name in waiting if not all_pass(checks[name])]
        if not waiting or time.monotonic() >= until:
            break
        time.sleep(0.2)
    return waiting
