"""``.run/state.json``: what the running stack is made of, for later commands."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tracelab.stack.process import ProcessRef

STATE_FILE = "state.json"
STATE_VERSION = 1


def state_path(run_dir: Path) -> Path:
    """Return the state file of ``run_dir``."""
    return run_dir / STATE_FILE


def load_state(run_dir: Path) -> dict[str, Any] | None:
    """Return the saved state, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(state_path(run_dir).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return None
    return data


def save_state(run_dir: Path, state: dict[str, Any]) -> None:
    """Write ``state`` atomically (readers never see a half-written file)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    state = {**state, "version": STATE_VERSION}
    tmp = state_path(run_dir).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, state_path(run_dir))


def clear_state(run_dir: Path) -> None:
    """Remove the state file and the pid files (missing ones are fine)."""
    state_path(run_dir).unlink(missing_ok=True)
    pids = run_dir / "pids"
    if pids.is_dir():
        for pid_file in pids.glob("*.pid"):
            pid_file.unlink(missing_ok=True)


def write_pid_file(run_dir: Path, component: str, pid: int) -> Path:
    """Write ``.run/pids/<component>.pid`` (for people and shell scripts)."""
    path = run_dir / "pids" / f"{component}.pid"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}\n")
    return path


@dataclass(frozen=True)
class Recorded:
    """One component as the state file keeps it: its process, checks, URL and log.

    ``started`` is the process's :func:`~tracelab.stack.process.start_time`.
    """

    pid: int | None = None
    started: float | None = None
    checks: tuple[Mapping[str, Any], ...] = ()
    url: str = ""
    log: str | None = None

    @property
    def ref(self) -> ProcessRef | None:
        """The recorded process (pid and start time), or None."""
        if not self.pid:
            return None
        return ProcessRef(int(self.pid), float(-1.0 if self.started is None else self.started))

    def to_json(self) -> dict[str, Any]:
        """The state file's form."""
        return {
            "pid": self.pid,
            "started": self.started,
            "checks": [dict(check) for check in self.checks],
            "url": self.url,
            "log": self.log,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Recorded:
        """Read the state file's form (missing keys are empty).

        A file from before ``started`` has ``create_time`` (a Unix time):
        :meth:`ProcessRef.from_unix_time` finds the process it named, so a
        stack started by an older tracelab is still recognised.
        """
        pid, started = data.get("pid"), data.get("started")
        if started is None and pid and data.get("create_time") is not None:
            started = ProcessRef.from_unix_time(int(pid), float(data["create_time"])).started
        return cls(
            pid=pid,
            started=started,
            checks=tuple(data.get("checks") or ()),
            url=data.get("url", ""),
            log=data.get("log"),
        )


@dataclass(frozen=True)
class StackState:
    """What ``.run/state.json`` says of the stack: read once per operation, then passed on.

    Changes make a new object (``dataclasses.replace``) that is written whole.
    """

    signature: Mapping[str, Any] | None = None
    ports: Mapping[str, int] = field(default_factory=dict)
    urls: Mapping[str, str] = field(default_factory=dict)
    dsn: str | None = None
    ready: bool = False
    components: Mapping[str, Recorded] = field(default_factory=dict)
    root: str | None = None
    run_dir: str | None = None
    started_at: float | None = None
    ready_seconds: float | None = None

    def with_component(self, name: str, recorded: Recorded) -> StackState:
        """This state with ``name`` recorded (replacing what was there)."""
        return replace(self, components={**self.components, name: recorded})

    def to_json(self) -> dict[str, Any]:
        """The state file's form."""
        data: dict[str, Any] = {
            "root": self.root,
            "run_dir": self.run_dir,
            "signature": self.signature,
            "ports": dict(self.ports),
            "urls": dict(self.urls),
            "dsn": self.dsn,
            "ready": self.ready,
            "started_at": self.started_at,
            "components": {name: rec.to_json() for name, rec in self.components.items()},
        }
        if self.ready_seconds is not None:
            data["ready_seconds"] = self.ready_seconds
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StackState:
        """Read the state file's form (missing keys are empty)."""
        return cls(
            signature=data.get("signature"),
            ports=dict(data.get("ports") or {}),
            urls=dict(data.get("urls") or {}),
            dsn=data.get("dsn"),
            ready=bool(data.get("ready")),
            components={
                name: Recorded.from_json(comp)
                for name, comp in (data.get("components") or {}).items()
            },
            root=data.get("root"),
            run_dir=data.get("run_dir"),
            started_at=data.get("started_at"),
            ready_seconds=data.get("ready_seconds"),
        )


def read_state(run_dir: Path) -> StackState | None:
    """The state of ``run_dir`` as a typed object, or None when there is none."""
    data = load_state(run_dir)
    return None if data is None else StackState.from_json(data)


def write_state(run_dir: Path, state: StackState) -> StackState:
    """Write ``state`` (atomically) and return it."""
    save_state(run_dir, state.to_json())
    return state
