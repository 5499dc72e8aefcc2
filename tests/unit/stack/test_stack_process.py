"""Process groups: spawn with a log, stop with SIGTERM then SIGKILL (real processes)."""

from __future__ import annotations

import sys
import time

import psutil

from tracelab.stack.process import ProcessRef, group_members, spawn, stop_groups, wait_gone


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
    impostor = ProcessRef(proc.pid, real.create_time - 100)
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
