"""Errors of the local stack and the tool builds: each reads as one line."""

from __future__ import annotations

from pathlib import Path


class StackError(Exception):
    """A failure the user can act on; ``str()`` is a one-line explanation."""


class MissingBinaryError(StackError):
    """A program the stack or the tool build needs is not installed or not built."""


class PortInUseError(StackError):
    """One or more of the stack's fixed ports is already taken."""

    def __init__(self, conflicts: list[tuple[int, str, str]]) -> None:
        self.conflicts = conflicts
        described = ", ".join(
            f"{port} ({what}; set {var} to move it)" for port, what, var in conflicts
        )
        noun = "port" if len(conflicts) == 1 else "ports"
        super().__init__(
            f"{noun} already in use: {described}; stop whatever listens there "
            f"(see `ss -ltnp`) or run `tracelab down` if it is an old tracelab stack"
        )


class ComponentFailedError(StackError):
    """A component exited or failed while the stack was starting."""

    def __init__(self, component: str, reason: str, log_path: Path, tail: str = "") -> None:
        self.component = component
        self.log_path = log_path
        self.tail = tail
        super().__init__(f"{component} {reason}; see {log_path}")


class ReadinessTimeoutError(StackError):
    """Components did not become ready before the overall timeout."""

    def __init__(self, pending: dict[str, Path], timeout: float) -> None:
        self.pending = pending
        names = ", ".join(f"{name} (log: {log})" for name, log in pending.items())
        super().__init__(f"not ready after {timeout:.0f}s: {names}")


class VersionMismatchError(StackError):
    """A manifest disagrees with the pinned versions in infra/versions.env."""
