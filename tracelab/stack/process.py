"""Start components as process groups with their output in a log; stop them cleanly.

A process is named by its pid and its start time (:class:`ProcessRef`), and
the start time must not move while the process runs. psutil's
``create_time()`` does not hold on Linux: it adds the boot time, which the
kernel derives from the wall clock at every read, so a clock step (NTP
setting the clock of a freshly booted CI machine) moves every process's
``create_time`` by as much. Measured: with the boot time read one second
later, the runner took its whole live stack for dead, could not stop it and
failed on its own ports. :func:`start_time` is therefore the start tick in
``/proc/<pid>/stat`` (seconds after boot, what psutil uses internally for its
own process identity), and ``create_time()`` only where there is no procfs.
"""

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

# Two reads of one process's start time agree to the tick (1/CLK_TCK s).
_SAME_START_S = 0.001
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def start_time(pid: int) -> float:
    """When process ``pid`` started, as a value no clock change moves (raises psutil.Error).

    Seconds after boot on Linux (``/proc/<pid>/stat``); elsewhere psutil's
    ``create_time()``, which those systems keep fixed from the process's start.
    """
    stat = Path(psutil.PROCFS_PATH, str(pid), "stat")
    try:
        raw = stat.read_bytes()
    except FileNotFoundError:
        if Path(psutil.PROCFS_PATH).is_dir():
            raise psutil.NoSuchProcess(pid) from None
        return psutil.Process(pid).create_time()
    except OSError as exc:
        raise psutil.AccessDenied(pid) from exc
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = raw[raw.rindex(b")") + 2 :].split()
    return int(fields[19]) / _CLOCK_TICKS  # field 22, starttime, in clock ticks


def same_start(a: float, b: float) -> bool:
    """True when two :func:`start_time` values name the same start."""
    return abs(a - b) <= _SAME_START_S


@dataclass(frozen=True)
class ProcessRef:
    """A process identified by pid AND start time, so a reused pid is never mistaken.

    ``started`` is :func:`start_time`'s value, not a Unix time.
    """

    pid: int
    started: float

    @classmethod
    def of(cls, pid: int) -> ProcessRef | None:
        """Return the reference of the running process ``pid`` (None if there is none)."""
        try:
            return cls(pid, start_time(pid))
        except psutil.Error:
            return None

    @classmethod
    def from_unix_time(cls, pid: int, create_time: float) -> ProcessRef:
        """The reference a state file written before :func:`start_time` recorded.

        Such files kept psutil's ``create_time()``: the live process ``pid``
        is taken for that one when its ``create_time()`` is within two
        seconds (a clock step since is possible, a reused pid that close is
        not); otherwise the reference names no process.
        """
        try:
            if abs(psutil.Process(pid).create_time() - create_time) <= 2.0:
                return cls(pid, start_time(pid))
        except psutil.Error:
            pass
        return cls(pid, -1.0)

    def process(self) -> psutil.Process | None:
        """Return the live process (not a zombie) this reference names, or None."""
        try:
            proc = psutil.Process(self.pid)
            if not same_start(start_time(self.pid), self.started):
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
        return not same_start(start_time(ref.pid), ref.started)
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
