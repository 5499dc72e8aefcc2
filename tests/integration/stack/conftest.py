"""Fixtures for the stack runner's integration tests: a private run dir and free ports.

Every test runs its own stack in a fresh TRACELAB_RUN_DIR on ports chosen
free at the time, so a developer's running stack (default ports, ``.run``)
is never touched.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracelab.stack import Stack
from tracelab.stack.config import free_port_env
from tracelab.stack.paths import repo_root, tools_bin

ROOT = repo_root()


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """A fresh run directory the ``postgres`` user can traverse (mkdtemp makes 0700)."""
    path = Path(tempfile.mkdtemp(prefix="tracelab-stack-it-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def port_env() -> dict[str, str]:
    """Every port variable of the stack set to a port that is free right now."""
    return free_port_env()


@pytest.fixture
def stack(run_dir: Path, port_env: dict[str, str]) -> Iterator[Stack]:
    """A Stack on the real checkout, in its own run dir and ports; always stopped after."""
    instance = Stack(ROOT, run_dir=run_dir, env=port_env)
    yield instance
    instance.down(timeout=5)


@pytest.fixture
def built_tools() -> None:
    """Fail clearly when the collector and Jaeger are not built (`make tools`)."""
    missing = [n for n in ("otelcol", "jaeger") if not (tools_bin(ROOT) / n).is_file()]
    assert not missing, f"{', '.join(missing)} not built: run `make tools`"
