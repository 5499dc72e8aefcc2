"""Read the end of a log file without loading all of it."""

from __future__ import annotations

import os
import time
from pathlib import Path

_CHUNK = 8192
# A component's log is kept across restarts (appended) up to this size; past it,
# the log moves to ``<name>.log.1`` (the one before to ``.log.2``) and a new one starts.
LOG_MAX_BYTES = 16 * 1024 * 1024
LOG_GENERATIONS = 2


def tail_lines(path: Path, count: int = 20) -> list[str]:
    """Return the last ``count`` lines of ``path`` (fewer if shorter; [] if missing)."""
    if count <= 0:
        return []
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            position = handle.tell()
            data = b""
            while position > 0 and data.count(b"\n") <= count:
                step = min(_CHUNK, position)
                position -= step
                handle.seek(position)
                data = handle.read(step) + data
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-count:]


def format_tail(path: Path, count: int = 20) -> str:
    """Return the last lines of ``path`` indented for an error report ("" if empty)."""
    lines = tail_lines(path, count)
    if not lines:
        return ""
    return "\n".join(f"    {line}" for line in lines)


def prepare_log(path: Path, component: str, max_bytes: int = LOG_MAX_BYTES) -> None:
    """Get ``path`` ready for a (re)start of ``component``: rotate it when too big, mark the start.

    Logs survive restarts, so what a component said before it died is still
    there; the start marker is not JSON, so readers of the JSON lines skip it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.stat().st_size > max_bytes:
        for generation in range(LOG_GENERATIONS, 0, -1):
            older = path.with_name(f"{path.name}.{generation}")
            newer = path if generation == 1 else path.with_name(f"{path.name}.{generation - 1}")
            if newer.exists():
                os.replace(newer, older)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with path.open("ab") as log:
        log.write(f"--- tracelab: {component} starting at {stamp} ---\n".encode())
