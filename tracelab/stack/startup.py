"""Wait for starting components by polling, failing fast when one dies.

A *step* is something that becomes ready: a long-running component process
(ready when its checks pass) or a one-shot command such as ``pg_ctl start -w``
or the schema bootstrap (ready when it exits 0). A ready step may start
follow-up steps (``then``), so dependent work begins the moment its
dependency is ready while the other components keep starting.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tracelab.stack.checks import Check, all_pass
from tracelab.stack.errors import ComponentFailedError, ReadinessTimeoutError
from tracelab.stack.logtail import format_tail

POLL_INTERVAL = 0.05
Echo = Callable[[str], None]


@dataclass
class Step:
    """Base of the things ``wait_all`` polls."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    then: Callable[[], list[Step]] | None = field(default=None, kw_only=True)

    def fail(self, reason: str) -> ComponentFailedError:
        """Build the one-line error for this step, with its log's last lines."""
        return ComponentFailedError(self.name, reason, self.log, format_tail(self.log))

    def poll(self) -> bool:
        """True when ready; raises ComponentFailedError when it can no longer get ready."""
        raise NotImplementedError

    def assert_alive(self) -> None:
        """Raise ComponentFailedError when a ready step has died since."""
        raise NotImplementedError


@dataclass
class ProcessStep(Step):
    """A long-running component: ready when every check passes, failed if it exits."""

    checks: list[Check] = field(default_factory=list, kw_only=True)

    def assert_alive(self) -> None:
        """Raise when the process has exited."""
        code = self.proc.poll()
        if code is not None:
            raise self.fail(f"exited with code {code}")

    def poll(self) -> bool:
        """True when the process runs and its checks pass."""
        self.assert_alive()
        return all_pass(self.checks)


@dataclass
class CommandStep(Step):
    """A command that exits 0 when its work is done (``pg_ctl start -w``, a bootstrap)."""

    still_ok: Callable[[], bool] | None = field(default=None, kw_only=True)
    done: bool = field(default=False, init=False)

    def poll(self) -> bool:
        """True once the command exited 0; raises on a non-zero exit."""
        code = self.proc.poll()
        if code is None:
            return False
        if code != 0:
            raise self.fail(f"failed with exit {code}")
        self.done = True
        return True

    def assert_alive(self) -> None:
        """After success, ``still_ok`` (e.g. "the server still runs") must hold."""
        if not self.done:
            self.poll()
        elif self.still_ok is not None and not self.still_ok():
            raise self.fail("stopped unexpectedly")


def wait_all(
    steps: Sequence[Step],
    *,
    deadline: float,
    timeout: float,
    watch: Sequence[Step] = (),
    echo: Echo = lambda _msg: None,
    origin: float | None = None,
) -> list[Step]:
    """Poll ``steps`` (and the follow-ups they start) until all are ready.

    ``watch`` holds steps that are already ready: they must stay alive.
    Returns every step that became ready, follow-ups included.
    """
    origin = time.monotonic() if origin is None else origin
    waiting = list(steps)
    ready: list[Step] = []
    while waiting:
        for step in [*watch, *ready]:
            step.assert_alive()
        still: list[Step] = []
        for step in waiting:
            if step.poll():
                echo(f"  {step.name} ready ({time.monotonic() - origin:.1f}s)")
                ready.append(step)
                if step.then is not None:
                    still.extend(step.then())
            else:
                still.append(step)
        waiting = still
        if waiting and time.monotonic() > deadline:
            raise ReadinessTimeoutError({step.name: step.log for step in waiting}, timeout)
        if waiting:
            time.sleep(POLL_INTERVAL)
    return ready
