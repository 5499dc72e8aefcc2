"""Stacks for load: the benchmark's private stack and ``make load``'s usual one."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tracelab.bench.configs import load_stack_env
from tracelab.stack import Stack, StackError, StackInfo
from tracelab.stack.paths import repo_root
from tracelab.stack.state import load_state


def component_pids(run_dir: Path) -> dict[str, int]:
    """The recorded pid of every component of the stack in ``run_dir``."""
    state = load_state(run_dir) or {}
    return {
        name: int(comp["pid"])
        for name, comp in state.get("components", {}).items()
        if comp.get("pid")
    }


def ensure_load_stack(
    root: Path, env_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> StackInfo:
    """Start (or restart) the usual stack with the load profile's environment.

    ``Stack.up`` restarts a stack running with another ``extra_env`` and
    leaves one already running with this one alone.
    """
    stack = Stack(root, env=environ, echo=lambda msg: print(msg, file=sys.stderr))
    return stack.up(timeout=180, extra_env=load_stack_env(root, env_file))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tracelab.bench.stackenv [ENV_FILE]``: print the frontend URL."""
    args = list(sys.argv[1:] if argv is None else argv)
    root = repo_root()
    try:
        info = ensure_load_stack(root, Path(args[0]) if args else None)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(info.frontend_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
