"""Where things live: the repository, the run directory and the tool binaries."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

RUN_DIR_VAR = "TRACELAB_RUN_DIR"
ROOT_VAR = "TRACELAB_ROOT"


def repo_root(start: Path | None = None) -> Path:
    """Return the tracelab checkout: ``$TRACELAB_ROOT`` or the nearest parent with infra/."""
    override = os.environ.get(ROOT_VAR)
    if override:
        return Path(override).resolve()
    here = (start or Path(__file__)).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "infra").is_dir():
            return candidate
    return Path.cwd().resolve()


def run_dir(root: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Return the run directory: ``$TRACELAB_RUN_DIR`` (relative to ``root``) or ``root/.run``."""
    env = os.environ if environ is None else environ
    override = env.get(RUN_DIR_VAR, "").strip()
    if override:
        path = Path(override)
        return (path if path.is_absolute() else root / path).resolve()
    return root / ".run"


def tools_dir(root: Path) -> Path:
    """Return ``root/.tools``: built binaries, sources and build stamps."""
    return root / ".tools"


def tools_bin(root: Path) -> Path:
    """Return the directory holding the built collector and Jaeger binaries."""
    return tools_dir(root) / "bin"
