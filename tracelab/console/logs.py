"""The services' log lines of one trace, from their JSON log files (local mode).

Every service writes one JSON object per line with ``trace_id`` and
``span_id`` when the line was logged inside a span
(``services.common.logs``); the local stack keeps them in
``<run dir>/logs/<component>.log``. Only the newest part of each file is
read, so a long-running stack answers as fast as a fresh one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Read at most this much of the end of each log file (the newest lines).
LOG_TAIL_BYTES = 4 * 1024 * 1024
MAX_LOG_LINES = 500


def _tail_lines(path: Path, max_bytes: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - max_bytes))
        if size > max_bytes:
            handle.readline()  # a partial first line
        yield from handle


class LogSource:
    """The JSON log files in ``log_dir`` (None: this mode has no log files to read)."""

    def __init__(self, log_dir: Path | None) -> None:
        self.log_dir = log_dir

    @property
    def available(self) -> bool:
        """True when there is a log directory to read."""
        return self.log_dir is not None and self.log_dir.is_dir()

    def lines(self, trace_id: str) -> list[dict[str, Any]]:
        """Every JSON log line carrying ``trace_id``, oldest first (at most 500, the newest)."""
        if not self.available:
            return []
        assert self.log_dir is not None
        needle = trace_id.encode()
        found = []
        for path in sorted(self.log_dir.glob("*.log")):
            for raw in _tail_lines(path, LOG_TAIL_BYTES):
                if needle not in raw:
                    continue
                try:
                    entry = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    continue
                if isinstance(entry, dict) and entry.get("trace_id") == trace_id:
                    entry.setdefault("source", path.stem)
                    found.append(entry)
        found.sort(key=lambda e: str(e.get("time", "")))
        return found[-MAX_LOG_LINES:]
