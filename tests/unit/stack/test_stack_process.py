"""Process groups: spawn with a log, stop with SIGTERM then SIGKILL (real processes)."""

from __future__ import annotations

import sys
import time

import psutil
import pytest

from tracelab.stack.process import (
    ProcessRef,
    group_members,
    spawn,
    start_time,
    stop_groups,
    wait_gone,
)


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_spawn_logs_output_in_a_new_session(tmp_path):
    log = tmp_path / "logs" / "echo.log"
    proc = spawn(
        [sys.executable, "-c", "print('hello from child')"], env={}, cwd=tmp_path, log_path=log
    )
    assert proc.wait(timeout=10) == 0
    assert "hello from child" in log.read_text()


def test_stop_groups_stops_the_leader_and_its_children(tmp_path):
    proc = spawn(
        ["sh", "-c", "sleep 60 & sleep 60 & wait"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        log_path=tmp_path / "sh.log",
    )
    ref = ProcessRef.of(proc.pid)
    assert ref is not None
    assert _wait_for(lambda: len(group_members(ref)) == 3)
    members = group_members(ref)
    assert psutil.Process(proc.pid).pid in {m.pid for m in members}
    assert stop_groups([ref], timeout=5) == []
    proc.wait(timeout=5)
    assert not any(m.is_running() and m.status() != psutil.STATUS_ZOMBIE for m in members)


def test_a_process_ignoring_sigterm_is_killed_after_the_timeout(tmp_path):
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    log = tmp_path / "stubborn.log"
    proc = spawn([sys.executable, "-c", code], env={}, cwd=tmp_path, log_path=log)
    assert _wait_for(lambda: "up" in log.read_text())
    ref = ProcessRef.of(proc.pid)
    started = time.monotonic()
    assert stop_groups([ref], timeout=0.5) == []
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 5  # it sat out the SIGTERM grace period, then got SIGKILL
    assert not ref.alive()
    proc.wait(timeout=5)


def test_a_reused_pid_is_not_mistaken_for_our_process(tmp_path):
    proc = spawn(
        ["sleep", "30"], env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path, log_path=tmp_path / "s.log"
    )
    real = ProcessRef.of(proc.pid)
    assert real is not None and real.alive()
    impostor = ProcessRef(proc.pid, real.started - 100)
    assert not impostor.alive()
    assert stop_groups([impostor]) == []  # nothing to stop: not ours
    assert real.alive()
    stop_groups([real], timeout=5)
    assert not real.alive()


def test_wait_gone_returns_the_survivors(tmp_path):
    proc = spawn(
        ["sleep", "30"], env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path, log_path=tmp_path / "s.log"
    )
    survivor = psutil.Process(proc.pid)
    assert wait_gone([survivor], timeout=0.1) == [survivor]
    survivor.kill()
    assert wait_gone([survivor], timeout=5) == []
    proc.wait(timeout=5)


def _clock_stepped(monkeypatch, seconds: float) -> None:
    """Have psutil read the boot time ``seconds`` later, as after a step of the wall clock.

    The kernel derives the boot time it reports (``btime`` in /proc/stat)
    from the wall clock at every read; a clock step moves it.
    """
    import psutil._pslinux as pslinux

    real = pslinux.boot_time
    monkeypatch.setattr(pslinux, "boot_time", lambda: real() + seconds)


def test_a_clock_step_does_not_make_our_process_a_stranger(tmp_path, monkeypatch):
    proc = spawn(
        ["sleep", "30"], env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path, log_path=tmp_path / "s.log"
    )
    ref = ProcessRef.of(proc.pid)
    assert ref is not None
    _clock_stepped(monkeypatch, 1.0)
    assert psutil.Process(proc.pid).create_time() != pytest.approx(ref.started, abs=1)
    assert ref.alive()
    assert ProcessRef.of(proc.pid) == ref
    assert [member.pid for member in group_members(ref)] == [proc.pid]
    assert stop_groups([ref], timeout=5) == []
    assert not ref.alive()
    proc.wait(timeout=5)


def test_start_time_is_the_kernels_start_tick(tmp_path):
    proc = spawn(
        ["sleep", "30"], env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path, log_path=tmp_path / "s.log"
    )
    try:
        # Seconds after boot: the same as psutil's create time less the boot time.
        expected = psutil.Process(proc.pid).create_time() - psutil.boot_time()
        assert start_time(proc.pid) == pytest.approx(expected, abs=0.02)
        with pytest.raises(psutil.NoSuchProcess):
            start_time(2**22 + 1)  # above pid_max's ceiling: no such process
    finally:
        proc.kill()
        proc.wait(timeout=5)
