"""CPU time and memory of the stack's components, from /proc via psutil.

A component is its recorded process (``.run/state.json``) plus every
descendant: gunicorn's workers are children of the master, PostgreSQL's
backends children of the postmaster. CPU is user + system time; a process
that appears during the window counts from its start, one that exits during
it keeps what it had used at the first snapshot (gunicorn does not recycle
workers in the lab, so neither happens in practice).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

import psutil

from tracelab.stack.process import start_time

# (pid, start time) names a process without confusing a reused pid (see start_time).
ProcKey = tuple[int, float]


@dataclass(frozen=True)
class ComponentSample:
    """One component at one instant: per-process CPU seconds and total RSS."""

    cpu: dict[ProcKey, float]
    rss_bytes: int

    @property
    def processes(self) -> int:
        """How many processes the component had."""
        return len(self.cpu)


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def sample_component(pid: int) -> ComponentSample:
    """CPU seconds of each process in ``pid``'s tree and their summed RSS."""
    cpu: dict[ProcKey, float] = {}
    rss = 0
    for proc in _tree(pid):
        with contextlib.suppress(psutil.Error), proc.oneshot():
            times = proc.cpu_times()
            key = (proc.pid, start_time(proc.pid))
            cpu[key] = times.user + times.system
            rss += proc.memory_info().rss
    return ComponentSample(cpu, rss)


def sample_components(pids: Mapping[str, int]) -> dict[str, ComponentSample]:
    """:func:`sample_component` for every named component."""
    return {name: sample_component(pid) for name, pid in pids.items()}


def cpu_delta(before: ComponentSample, after: ComponentSample) -> float:
    """CPU seconds the component used between two samples."""
    total = 0.0
    for key, seconds in after.cpu.items():
        total += seconds - before.cpu.get(key, 0.0)
    return total


def cpu_deltas(
    before: Mapping[str, ComponentSample], after: Mapping[str, ComponentSample]
) -> dict[str, float]:
    """Per-component CPU seconds between two sets of samples."""
    return {
        name: cpu_delta(before[name], sample) for name, sample in after.items() if name in before
    }


@dataclass(frozen=True)
class MachineTimes:
    """Machine-wide CPU seconds (all cores) at one instant."""

    busy: float  # user + nice + system + irq + softirq
    steal: float  # taken by the hypervisor for other guests


def machine_times() -> MachineTimes:
    """The machine's cumulative busy and stolen CPU time (/proc/stat)."""
    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
    return MachineTimes(busy=busy, steal=getattr(t, "steal", 0.0))
