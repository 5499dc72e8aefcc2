"""What one component of the local stack is, as data: the shape of a row of the table.

The rows themselves are in :mod:`tracelab.stack.config` (``COMPONENTS``); the
runner reads them and has no branch per component. A component whose start
is more than "spawn a process and poll its checks" (PostgreSQL: initdb, stale
lock files, the database and its seed) carries :class:`Hooks`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from services.common import launch
from tracelab.stack.checks import Check, HttpCheck, PostgresCheck, TcpCheck
from tracelab.stack.paths import tools_bin
from tracelab.stack.ports import LOCALHOST
from tracelab.stack.process import ProcessRef
from tracelab.stack.secrets import stack_secrets
from tracelab.stack.startup import Step

Kind = Literal["infra", "service", "tooling"]
# The kinds in start order (``tracelab down`` names what it stopped in the reverse).
KINDS: tuple[Kind, ...] = ("infra", "service", "tooling")


@dataclass(frozen=True)
class PortSpec:
    """A port of a component, overridable through ``env_var``.

    A ``floating`` port (PostgreSQL's) moves to any free port when its
    variable is unset and the default is taken; the others are fixed.
    """

    component: str
    label: str
    env_var: str
    default: int
    floating: bool = False

    @property
    def description(self) -> str:
        """``<component> <label>``, as a port conflict names it."""
        return f"{self.component} {self.label}".strip()


@dataclass(frozen=True)
class Url:
    """A URL worth printing: ``key`` (``info.url(key)``), its label and where it points.

    ``form`` is ``http`` (``http://127.0.0.1:<port><path>``), ``address``
    (``127.0.0.1:<port>``, for gRPC) or ``dsn`` (the database URL).
    """

    key: str
    label: str
    port: str
    path: str = ""
    form: Literal["http", "address", "dsn"] = "http"

    def render(self, ports: Mapping[str, int], dsn: str | None) -> str | None:
        """The URL on ``ports`` (None for a ``dsn`` when there is no database)."""
        if self.form == "dsn":
            return dsn
        if self.form == "address":
            return f"{LOCALHOST}:{ports[self.port]}"
        return f"http://{LOCALHOST}:{ports[self.port]}{self.path}"


@dataclass(frozen=True)
class HttpProbe:
    """Ready when ``GET <port><path>`` answers 200."""

    port: str
    path: str

    def check(self, ports: Mapping[str, int], dsn: str | None) -> Check:
        """The check against this stack's ports."""
        return HttpCheck(f"http://{LOCALHOST}:{ports[self.port]}{self.path}")


@dataclass(frozen=True)
class TcpProbe:
    """Ready when the port accepts a connection."""

    port: str

    def check(self, ports: Mapping[str, int], dsn: str | None) -> Check:
        """The check against this stack's ports."""
        return TcpCheck(LOCALHOST, ports[self.port])


@dataclass(frozen=True)
class PostgresProbe:
    """Ready when the stack's database runs ``SELECT 1`` (pg_isready and a login)."""

    def check(self, ports: Mapping[str, int], dsn: str | None) -> Check:
        """The check against this stack's database."""
        assert dsn is not None, "a database probe needs the stack's DSN"
        return PostgresCheck(dsn)


Probe = HttpProbe | TcpProbe | PostgresProbe


@dataclass(frozen=True)
class Site:
    """Where a stack lives: the checkout, its run directory and the environment."""

    root: Path
    run_dir: Path
    environ: Mapping[str, str]

    def log_path(self, name: str) -> Path:
        """``<run dir>/logs/<name>.log``: every component's (and helper's) log."""
        return self.run_dir / "logs" / f"{name}.log"


@dataclass(frozen=True)
class Launch:
    """What starting components needs: the site, the ports and the runner's callbacks."""

    site: Site
    ports: Mapping[str, int]
    dsn: str | None
    wanted: tuple[str, ...]
    deadline: float
    extra_env: Mapping[str, str] = field(default_factory=dict)
    bootstrap: bool | None = None
    # Keep a component in the state file: (name, process, checks, url).
    record: Callable[[str, ProcessRef | None, list[Check], str], None] = lambda *_: None
    # A one-shot helper process, stopped if `up` fails; ``grace`` seconds to finish first.
    helper: Callable[[subprocess.Popen[bytes], float], subprocess.Popen[bytes]] = (
        lambda proc, _grace: proc
    )

    def secrets(self) -> dict[str, str]:
        """The stack's admin token and auth key (made on first use; the environment wins)."""
        return stack_secrets(self.site.run_dir, self.site.environ)


@dataclass(frozen=True)
class PythonModule:
    """``python -m <module>`` of this checkout; ``what`` and ``hint`` say it is missing."""

    module: str
    what: str
    hint: str = ""

    # A demo service: started by services.common.launch (either instrumentation mode).
    service: str | None = None

    def command(self, env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
        """The command line and the environment it runs with, from the component's ``env``."""
        if self.service is not None:
            return launch.command(self.service, env)
        return [sys.executable, "-m", self.module], dict(env)

    def source(self) -> Path:
        """The module's ``__main__.py``, relative to the checkout."""
        return Path(*self.module.split("."), "__main__.py")


@dataclass(frozen=True)
class Tool:
    """A binary built into ``.tools/bin`` by ``make tools``, run with a config of ``infra/``."""

    binary: str
    config: Path

    def argv(self, site: Site) -> list[str]:
        """The command line."""
        return [str(self.path(site.root)), "--config", str(site.root / self.config)]

    def path(self, root: Path) -> Path:
        """Where ``make tools`` puts the binary."""
        return tools_bin(root) / self.binary


Command = PythonModule | Tool


class Hooks(Protocol):
    """The steps of a component that is more than one process to spawn and poll.

    Each gets its own row (``row``): its name, ports, readiness probes, URLs.
    """

    def preflight(self, row: Component, site: Site) -> None:
        """Fail, before anything starts, when the component cannot start."""

    def start(self, row: Component, launch: Launch, fresh: bool) -> Step:
        """Start it (recording it with ``launch.record`` once it runs); ``fresh`` on a
        new stack, not when just this component is restarted."""
        ...

    def found(self, row: Component, site: Site) -> ProcessRef | None:
        """Its live process when the recorded one is gone (restarted outside the runner)."""
        ...

    def present(self, row: Component, site: Site) -> bool:
        """True when something of it may still run (so a new stack stops it first)."""
        ...

    def stop(self, row: Component, site: Site, timeout: float) -> bool:
        """Stop it; True when something was stopped."""
        ...


@dataclass(frozen=True)
class Component:
    """One row of the stack: everything the runner, the CLI and the config checks know of it.

    ``needs`` are selected with it and ready before it starts; ``after`` are
    ready before it starts when they are selected too. ``listed`` orders the
    printed URL list (where to click first).
    """

    name: str
    kind: Kind
    listed: int
    ports: Mapping[str, PortSpec]
    urls: tuple[Url, ...]
    ready: tuple[Probe, ...]
    command: Command | None = None
    env: Callable[[Launch], dict[str, str]] | None = None
    needs: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    hooks: Hooks | None = None

    def checks(self, ports: Mapping[str, int], dsn: str | None) -> list[Check]:
        """Its readiness checks on this stack's ports."""
        return [probe.check(ports, dsn) for probe in self.ready]

    def status_url(self, ports: Mapping[str, int], dsn: str | None) -> str:
        """The URL ``tracelab status`` shows: its first."""
        return self.urls[0].render(ports, dsn) or ""
