"""The whole local stack: infrastructure, the five services and the console."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from pathlib import Path

import psutil
import psycopg
import pytest

from tracelab.stack import Stack
from tracelab.stack.config import ALL_COMPONENTS, POSTGRES, SERVICES
from tracelab.stack.postgres import PostgresCluster, find_pg_binaries
from tracelab.stack.process import is_running

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("built_tools")]


def test_the_whole_stack_gets_ready_and_stops(stack):
    started = time.monotonic()
    info = stack.up(timeout=120)
    elapsed = time.monotonic() - started
    assert info.components == ALL_COMPONENTS
    for name in SERVICES:
        with urllib.request.urlopen(f"{info.url(name)}/readyz", timeout=5) as response:
            assert response.status == 200, name
    rows = stack.status()
    assert {row.name for row in rows} == set(ALL_COMPONENTS)
    assert all(row.alive and row.ready for row in rows)
    assert sorted(stack.down()) == sorted(ALL_COMPONENTS)
    assert stack.status() == []
    print(f"whole stack ready in {elapsed:.1f}s")


def test_a_new_extra_env_restarts_only_the_services(stack):
    stack.up(timeout=120)
    before = {row.name: row.pid for row in stack.status()}
    info = stack.up(timeout=120, extra_env={"TRACELAB_IT_MARKER": "second"})
    after = {row.name: row.pid for row in stack.status()}
    assert not info.already_running
    for name in ALL_COMPONENTS:
        if name in SERVICES:
            assert after[name] != before[name], f"{name} kept its process"
            environ = Path(f"/proc/{after[name]}/environ").read_bytes().split(b"\0")
            assert b"TRACELAB_IT_MARKER=second" in environ, name
        else:
            assert after[name] == before[name], f"{name} was restarted"
    assert stack.is_ready()
    again = stack.up(timeout=120, extra_env={"TRACELAB_IT_MARKER": "second"})
    assert again.already_running
    assert {row.name: row.pid for row in stack.status()} == after


def test_a_new_collector_setting_restarts_the_infrastructure_too(stack):
    stack.up(timeout=120)
    before = {row.name: row.pid for row in stack.status()}
    changed = Stack(
        stack.root, run_dir=stack.run_dir, env={**stack.environ, "JAEGER_MAX_TRACES": "500"}
    )
    changed.up(timeout=120)
    after = {row.name: row.pid for row in changed.status()}
    assert after["jaeger"] != before["jaeger"]
    assert after["otel-collector"] != before["otel-collector"]
    assert changed.is_ready()


def _kill_group(pid: int) -> None:
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, f"pid {pid} survived SIGKILL"
        time.sleep(0.05)


def _wait_ready(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{url} not ready in {timeout}s"
        time.sleep(0.2)


def test_up_with_one_dead_component_restarts_only_that_one_and_keeps_its_log(stack):
    info = stack.up(timeout=120)
    before = {row.name: row.pid for row in stack.status()}
    log = stack.log_path("user")
    old = log.read_text()
    _kill_group(before["user"])
    assert not stack.is_ready()
    repaired = stack.up(timeout=120)
    after = {row.name: row.pid for row in stack.status()}
    assert not repaired.already_running
    changed = {name for name in ALL_COMPONENTS if after[name] != before[name]}
    assert changed == {"user"}
    assert stack.is_ready()
    _wait_ready(info.url("user"))
    text = log.read_text()
    assert text.startswith(old)  # appended, not truncated
    assert text.count("--- tracelab: user starting at") == 2


def test_a_killed_postgres_is_restarted_alone_and_db_recovers(stack):
    info = stack.up(timeout=120)
    before = {row.name: row.pid for row in stack.status()}
    _kill_group(before[POSTGRES])
    assert not stack.is_ready()
    stack.up(timeout=120)
    after = {row.name: row.pid for row in stack.status()}
    assert {name for name in ALL_COMPONENTS if after[name] != before[name]} == {POSTGRES}
    _wait_ready(info.url("db"))  # db reconnects by itself: it was not restarted
    with psycopg.connect(info.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] > 0


def test_status_follows_a_postgres_restarted_outside_the_runner(stack):
    stack.up(timeout=120)
    recorded = {row.name: row.pid for row in stack.status()}[POSTGRES]
    cluster = PostgresCluster(
        stack.pg_data_dir, stack.log_path(POSTGRES), find_pg_binaries(stack.environ)
    )
    cluster.stop()
    port = stack.info().ports["postgres"]
    assert cluster.start(port, wait_timeout=30).wait(timeout=40) == 0
    row = {row.name: row for row in stack.status()}[POSTGRES]
    assert row.pid != recorded and row.pid == cluster.postmaster().pid
    assert row.alive and row.ready
    assert stack.up(timeout=120).already_running  # nothing to restart


def test_a_clock_step_leaves_the_running_stack_recognised_and_stoppable(stack, monkeypatch):
    """The wall clock set by a second (NTP on a fresh machine) changes nothing.

    psutil's create_time moves with the clock; before the runner named its
    processes by their start tick, this `up` took the whole stack for dead,
    failed on its own ports, and `down` left every process running.
    """
    import psutil._pslinux as pslinux

    stack.up(timeout=120)
    before = {row.name: row.pid for row in stack.status()}
    groups = {pid: os.getpgid(pid) for pid in before.values()}
    real = pslinux.boot_time
    monkeypatch.setattr(pslinux, "boot_time", lambda: real() + 1.0)
    rows = stack.status()
    assert {row.name: row.pid for row in rows} == before
    assert all(row.alive and row.ready for row in rows)
    assert stack.up(timeout=120).already_running
    assert sorted(stack.down(timeout=10)) == sorted(ALL_COMPONENTS)
    left = [
        f"{proc.pid} {proc.name()} {proc.status()}"
        for proc in psutil.process_iter()
        if (proc.pid in groups or _group_of(proc.pid) in groups.values()) and is_running(proc)
    ]
    assert left == [], f"processes of the stack still running: {left}"


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None
