"""Count the SDK's span-loss log lines a service wrote during the window.

The batch span processor logs ``Queue full, dropping span.`` for every span
it drops, and the OTLP exporters log ``Failed to export`` for every batch
they give up on; counting those lines between two file offsets tells how
many spans never left the services.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DROP_MARKER = b"Queue full, dropping"
EXPORT_FAILURE_MARKERS = (b"Failed to export", b"Failed to encode")


@dataclass(frozen=True)
class LogCounts:
    """Span-loss lines found in one stretch of log."""

    dropped_spans: int = 0
    failed_exports: int = 0


def offsets(paths: Mapping[str, Path]) -> dict[str, int]:
    """The current size of each log (where the window's lines will start)."""
    return {name: path.stat().st_size if path.is_file() else 0 for name, path in paths.items()}


def count_since(path: Path, offset: int) -> LogCounts:
    """Count span-loss lines written to ``path`` after byte ``offset``."""
    if not path.is_file():
        return LogCounts()
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    dropped = failed = 0
    for line in data.splitlines():
        if DROP_MARKER in line:
            dropped += 1
        elif any(marker in line for marker in EXPORT_FAILURE_MARKERS):
            failed += 1
    return LogCounts(dropped, failed)


def count_all(paths: Mapping[str, Path], start: Mapping[str, int]) -> LogCounts:
    """Sum of :func:`count_since` over every log."""
    dropped = failed = 0
    for name, path in paths.items():
        counts = count_since(path, start.get(name, 0))
        dropped += counts.dropped_spans
        failed += counts.failed_exports
    return LogCounts(dropped, failed)
