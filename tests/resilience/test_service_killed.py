"""One service killed under load, then `tracelab up` restarts it alone: fast 503s, then served."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from tests.resilience.measure import Fault, LoadPlan, run_with_fault, write_figures
from tracelab.stack import Stack

pytestmark = pytest.mark.resilience

ROOT = Path(__file__).resolve().parents[2]
RATE = 40.0
KILLED = "user"


def _pids(stack: Stack) -> dict[str, int | None]:
    return {row.name: row.pid for row in stack.status()}


def _rss_mib(pids: dict[str, int | None]) -> dict[str, float]:
    sizes = {}
    for name, pid in pids.items():
        try:
            process = psutil.Process(pid)
            members = [process, *process.children(recursive=True)]
            sizes[name] = round(sum(p.memory_info().rss for p in members) / 2**20, 1)
        except (psutil.Error, TypeError):
            continue
    return sizes


def test_a_killed_service_fails_fast_and_is_restarted_alone(frontend_url, accounts, results_dir):
    runner = Stack(ROOT)
    before = _pids(runner)
    restarted: dict[str, object] = {}

    def kill() -> None:
        os.killpg(before[KILLED], signal.SIGKILL)

    def restart() -> None:
        started = time.monotonic()
        runner.up(timeout=60)
        restarted["seconds"] = round(time.monotonic() - started, 2)

    plan = LoadPlan(rate=RATE, before_s=5, fault_s=5, after_s=8, timeout_s=30)
    rss_before = _rss_mib(before)
    figures = run_with_fault(
        frontend_url, accounts, plan, Fault(f"{KILLED}-killed", kill, restart), slow_ms=500
    )
    after = _pids(runner)
    figures.notes.update(
        restart_s=restarted["seconds"],
        restarted=sorted(name for name in before if after.get(name) != before[name]),
        rss_mib={"before": rss_before, "after": _rss_mib(after)},
    )
    write_figures(figures, results_dir, f"{KILLED}-killed")
    before_phase, during, after_phase = (figures.phase(n) for n in ("before", "during", "after"))

    # `up` restarted the dead service only: nothing else lost its process (or its traces).
    assert figures.notes["restarted"] == [KILLED]
    # While user was down: the profile and dashboard calls that needed it failed fast, with
    # 503 (a dependency down) at the edge, never a 502.
    assert set(during.failed) == {"503"}, during.failed
    assert during.failed_p99_ms < 500, during.failed_p99_ms
    # Served again at once, without a backlog.
    assert figures.recovery_s is not None and figures.recovery_s <= 1.0, figures.recovery_s
    for phase in (before_phase, after_phase):
        assert not phase.failed, phase.failed
        assert phase.ok_p99_ms < 1000
