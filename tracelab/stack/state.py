"""``.run/state.json``: what the running stack is made of, for later commands."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

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
