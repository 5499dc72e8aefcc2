"""Read the end of a log file without loading all of it."""

from __future__ import annotations

import os
from pathlib import Path

_CHUNK = 8192


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
