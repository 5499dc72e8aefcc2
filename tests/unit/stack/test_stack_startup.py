"""Polling for readiness: success, follow-up steps, fast failure, timeout."""

from __future__ import annotations

import sys
import time

import pytest

from tracelab.stack.checks import TcpCheck
from tracelab.stack.errors import ComponentFailedError, ReadinessTimeoutError
from tracelab.stack.ports import find_free_port
from tracelab.stack.process import ProcessRef, spawn, stop_groups
from tracelab.stack.startup import CommandStep, ProcessStep, wait_all


def _python(tmp_path, name: str, code: str):
    log = tmp_path / f"{name}.log"
    return spawn([sys.executable, "-c", code], env={}, cwd=tmp_path, log_path=log), log


def test_a_process_becomes_ready_when_its_port_listens(tmp_path):
    port = find_free_port()
    code = (
        "import socket, time\n"
        f"s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen()\n"
        "time.sleep(60)\n"
    )
    proc, log = _python(tmp_path, "server", code)
    try:
        step = ProcessStep("server", proc, log, checks=[TcpCheck("127.0.0.1", port)])
        seen = []
        ready = wait_all([step], deadline=time.monotonic() + 20, timeout=20, echo=seen.append)
        assert ready == [step]
        assert seen and seen[0].startswith("  server ready (")
    finally:
        stop_groups([ProcessRef.of(proc.pid)], timeout=2)


def test_an_early_exit_fails_fast_naming_component_and_log(tmp_path):
    proc, log = _python(
        tmp_path, "crasher", "print('bad config: no such key'); raise SystemExit(3)"
    )
    step = ProcessStep("crasher", proc, log, checks=[TcpCheck("127.0.0.1", find_free_port())])
    started = time.monotonic()
    with pytest.raises(ComponentFailedError) as caught:
        wait_all([step], deadline=started + 60, timeout=60)
    assert time.monotonic() - started < 10
    error = caught.value
    assert str(error) == f"crasher exited with code 3; see {log}"
    assert "bad config: no such key" in error.tail
    assert error.component == "crasher"


def test_follow_up_steps_start_when_their_dependency_is_ready(tmp_path):
    first, first_log = _python(tmp_path, "first", "pass")
    order = []

    def then():
        order.append("then")
        second, second_log = _python(tmp_path, "second", "print('second ran')")
        return [CommandStep("second", second, second_log)]

    ready = wait_all(
        [CommandStep("first", first, first_log, then=then)],
        deadline=time.monotonic() + 20,
        timeout=20,
    )
    assert [step.name for step in ready] == ["first", "second"]
    assert order == ["then"]
    assert "second ran" in (tmp_path / "second.log").read_text()


def test_a_failing_command_reports_its_exit_code(tmp_path):
    proc, log = _python(
        tmp_path, "bootstrap", "import sys; print('schema.sql: syntax error'); sys.exit(2)"
    )
    with pytest.raises(
        ComponentFailedError, match=r"^bootstrap failed with exit 2; see "
    ) as caught:
        wait_all([CommandStep("bootstrap", proc, log)], deadline=time.monotonic() + 20, timeout=20)
    assert "schema.sql: syntax error" in caught.value.tail


def test_a_watched_component_dying_fails_the_wait(tmp_path):
    dying, dying_log = _python(tmp_path, "collector", "import time; time.sleep(0.3)")
    waiting, waiting_log = _python(tmp_path, "service", "import time; time.sleep(60)")
    try:
        with pytest.raises(ComponentFailedError, match=r"^collector exited with code 0"):
            wait_all(
                [
                    ProcessStep(
                        "service",
                        waiting,
                        waiting_log,
                        checks=[TcpCheck("127.0.0.1", find_free_port())],
                    )
                ],
                watch=[ProcessStep("collector", dying, dying_log)],
                deadline=time.monotonic() + 20,
                timeout=20,
            )
    finally:
        stop_groups([ProcessRef.of(waiting.pid)], timeout=2)


def test_timeout_names_every_pending_component(tmp_path):
    proc, log = _python(tmp_path, "slow", "import time; time.sleep(60)")
    try:
        step = ProcessStep("slow", proc, log, checks=[TcpCheck("127.0.0.1", find_free_port())])
        with pytest.raises(ReadinessTimeoutError) as caught:
            wait_all([step], deadline=time.monotonic() + 0.3, timeout=0.3)
        assert caught.value.pending == {"slow": log}
        assert str(caught.value).startswith("not ready after 0s: slow (log: ")
    finally:
        stop_groups([ProcessRef.of(proc.pid)], timeout=2)
