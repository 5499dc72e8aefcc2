"""Start components as process groups with their output in a log; stop them cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class ProcessRef:
    """A process identified by pid AND start time, so a reused pid is never mistaken."""

    pid: int
    create_time: float

    @classmethod
    def of(cls, pid: int) -> ProcessRef | None:
        """Return the reference of the running process ``pid`` (None if there is none)."""
        try:
            return cls(pid, psutil.Process(pid).create_time())
        except psutil.Error:
            return None

    def process(self) -> psutil.Process | None:
        """Return the live process (not a zombie) this reference names, or None."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 0.01:
                return None
            return proc if is_running(proc) else None
        except psutil.Error:
            return None

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process() is not None


def _reap(pid: int) -> None:
    """Collect an exited child of ours so it stops being a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def spawn(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_path: Path
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session (its own process group), output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _is_impostor(ref: ProcessRef) -> bool:
    """True when ``ref.pid`` now names another process (the pid was reused)."""
    try:
        return abs(psutil.Process(ref.pid).create_time() - ref.create_time) > 0.01
    except psutil.Error:
        return False


def group_members(leader: ProcessRef) -> list[psutil.Process]:
    """The leader, its descendants and every other process in its process group.

    When the leader has exited, members left in its group are still found (a
    process group id is not reused while the group exists). When the pid now
    names another process, nothing is ours: the result is empty.
    """
    if _is_impostor(leader):
        return []
    members: dict[int, psutil.Process] = {}
    proc = leader.process()
    if proc is not None:
        members[proc.pid] = proc
        with contextlib.suppress(psutil.Error):
            for child in proc.children(recursive=True):
                members[child.pid] = child
    for candidate in psutil.process_iter():
        try:
            if candidate.pid not in members and os.getpgid(candidate.pid) == leader.pid:
                members[candidate.pid] = candidate
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return list(members.values())


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_groups(leaders: Iterable[ProcessRef], timeout: float = 10.0) -> list[psutil.Process]:
    """SIGTERM each leader's group, wait up to ``timeout`` s, SIGKILL what is left.

    Returns the processes still alive afterwards (normally none).
    """
    leaders = [ref for ref in leaders if ref is not None and not _is_impostor(ref)]
    members: dict[int, psutil.Process] = {}
    for ref in leaders:
        for proc in group_members(ref):
            members[proc.pid] = proc
    if not members:
        return []
    for ref in leaders:
        _signal_group(ref.pid, signal.SIGTERM)
    for proc in members.values():
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    alive = wait_gone(list(members.values()), timeout=timeout)
    if alive:
        for ref in leaders:
            _signal_group(ref.pid, signal.SIGKILL)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        alive = wait_gone(alive, timeout=5.0)
    return alive


def is_running(proc: psutil.Process) -> bool:
    """True while ``proc`` runs; an exited zombie counts as gone (and is reaped if ours)."""
    try:
        if not proc.is_running():
            return False
        if proc.status() == psutil.STATUS_ZOMBIE:
            _reap(proc.pid)
            return False
        return True
    except psutil.Error:
        return False


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Poll until every process has exited or ``timeout`` passed; return those still running.

    Unlike ``psutil.wait_procs`` this treats zombies as gone: a process whose
    parent (here possibly a container's init) has not reaped it yet is done.
    """
    deadline = time.monotonic() + timeout
    interval = 0.005
    alive = [proc for proc in procs if is_running(proc)]
    while alive and time.monotonic() < deadline:
        time.sleep(interval)
        interval = min(interval * 2, 0.05)
        alive = [proc for proc in alive if is_running(proc)]
    return alive
