"""Measuring helpers of the resilience tier: a load with a fault window, figures per phase.

:func:`run_with_fault` drives the open-loop load generator
(``tracelab.bench.loadgen``, a subprocess) against the frontend, switches a
:class:`Fault` on and off at fixed times of the measured window, and cuts the
requests into three phases by their *scheduled* send time: ``before`` the
fault, ``during`` it (from the moment it was switched on to the moment it was
over) and ``after`` it. Each phase gets its figures (requests, failures by
status, latency percentiles); the run gets its recovery time. Latencies are
measured from the scheduled send time, so a request the system made wait
counts its whole wait.

The fault is anything with a ``start`` and a ``stop``: stopping PostgreSQL,
pausing a process, or nothing at all while the load itself steps up
(overload). ``stop`` returns once the fault is over (the dependency is back):
recovery is measured from that moment.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tracelab.bench.driver import LoadGeneratorError, run_generator
from tracelab.bench.loadgen import (
    MARK_DONE,
    MARK_START,
    STATUS_CONNECTION_ERROR,
    STATUS_SKIPPED,
    STATUS_TIMEOUT,
    LoadResult,
    LoadSpec,
)

# The names failures without an HTTP status get in the figures.
NO_ANSWER = {
    STATUS_TIMEOUT: "timeout",
    STATUS_CONNECTION_ERROR: "connection_error",
    STATUS_SKIPPED: "not_sent",
}
PHASES = ("before", "during", "after")


@dataclass(frozen=True)
class Fault:
    """A fault to inject: ``start`` switches it on, ``stop`` returns once it is over."""

    name: str
    start: Callable[[], None] = lambda: None
    stop: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class LoadPlan:
    """Open-loop load around a fault window: ``rate`` req/s, ``fault_rate`` during it.

    The window is ``before_s`` + ``fault_s`` + ``after_s`` long, after a
    ``warmup_s`` that is not measured; ``weights`` are the journeys' weights
    (``tracelab.bench.workload.JOURNEYS`` order).
    """

    rate: float
    before_s: float
    fault_s: float
    after_s: float
    fault_rate: float | None = None
    warmup_s: float = 2.0
    timeout_s: float = 10.0
    weights: Sequence[int] = (50, 50, 0, 0, 0)
    seed: int = 7

    @property
    def window_s(self) -> float:
        """The measured window's length."""
        return self.before_s + self.fault_s + self.after_s

    def spec(self, base_url: str, accounts: list[tuple[int, str]]) -> LoadSpec:
        """The load generator's spec for this plan."""
        steps: tuple[tuple[float, float], ...] = ()
        if self.fault_rate is not None:
            steps = ((self.before_s, self.fault_rate), (self.before_s + self.fault_s, self.rate))
        return LoadSpec(
            base_url=base_url,
            accounts=accounts,
            rate=self.rate,
            warmup_s=self.warmup_s,
            duration_s=self.window_s,
            seed=self.seed,
            timeout_s=self.timeout_s,
            max_in_flight=2048,
            weights=list(self.weights),
            rate_steps=steps,
        )


@dataclass
class PhaseFigures:
    """What the requests scheduled in one phase saw (milliseconds)."""

    phase: str
    start_s: float
    end_s: float
    requests: int
    ok: int
    failed: dict[str, int]
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    ok_p50_ms: float | None
    ok_p99_ms: float | None
    failed_p50_ms: float | None
    failed_p99_ms: float | None
    # How late the generator sent (a busy machine delays the sends themselves).
    send_lag_p99_ms: float | None
    # The failed requests' answer time from their actual send: the stack's own
    # speed, without the generator's lag (which the figures above include).
    failed_served_p50_ms: float | None
    failed_served_p99_ms: float | None

    @property
    def failed_total(self) -> int:
        """Every request of the phase that did not get a 2xx answer."""
        return sum(self.failed.values())


@dataclass
class FaultFigures:
    """One run: the plan, when the fault was on, the figures per phase, the recovery."""

    fault: str
    rate: float
    fault_rate: float
    sent: int
    fault_started_s: float
    fault_ended_s: float
    recovery_s: float | None
    slow_ms: float
    loadgen_cpu_s: float
    phases: dict[str, PhaseFigures] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)

    def phase(self, name: str) -> PhaseFigures:
        """The figures of phase ``before``, ``during`` or ``after``."""
        return self.phases[name]

    def to_json(self) -> str:
        """Indented JSON of every figure."""
        return json.dumps(asdict(self), indent=2, sort_keys=False)


def status_name(status: int) -> str:
    """``"503"`` for an HTTP status, ``"timeout"``/``"connection_error"``/``"not_sent"`` else."""
    return NO_ANSWER.get(status, str(status))


def _ms(values_us: list[int], q: float) -> float | None:
    return round(float(np.percentile(values_us, q)) / 1000, 1) if values_us else None


def phase_figures(result: LoadResult, phase: str, start_s: float, end_s: float) -> PhaseFigures:
    """The figures of the requests scheduled in ``[start_s, end_s)`` of the window."""
    start_us, end_us = start_s * 1e6, end_s * 1e6
    picked = [
        (status, latency, lag, served)
        for offset, status, latency, lag, served in zip(
            result.offset_us,
            result.status,
            result.latency_us,
            result.lag_us,
            result.service_us,
            strict=True,
        )
        if start_us <= offset < end_us
    ]
    ok = [latency for status, latency, _, _ in picked if 200 <= status < 300]
    failed = [(latency, served) for status, latency, _, served in picked if not 200 <= status < 300]
    every = [latency for _, latency, _, _ in picked]
    return PhaseFigures(
        phase=phase,
        start_s=round(start_s, 3),
        end_s=round(end_s, 3),
        requests=len(picked),
        ok=len(ok),
        failed=dict(
            sorted(Counter(status_name(s) for s, *_ in picked if not 200 <= s < 300).items())
        ),
        p50_ms=_ms(every, 50),
        p99_ms=_ms(every, 99),
        max_ms=round(max(every) / 1000, 1) if every else None,
        ok_p50_ms=_ms(ok, 50),
        ok_p99_ms=_ms(ok, 99),
        failed_p50_ms=_ms([latency for latency, _ in failed], 50),
        failed_p99_ms=_ms([latency for latency, _ in failed], 99),
        send_lag_p99_ms=_ms([lag for _, _, lag, _ in picked], 99),
        failed_served_p50_ms=_ms([served for _, served in failed], 50),
        failed_served_p99_ms=_ms([served for _, served in failed], 99),
    )


RECOVERY_WINDOW_S = 1.0
RECOVERY_STEP_S = 0.1


def _good_window(
    window: list[tuple[int, int]], max_failure_ratio: float, max_p99_us: float
) -> bool:
    failures = sum(1 for status, _ in window if not 200 <= status < 300)
    p99 = float(np.percentile([latency for _, latency in window], 99))
    return failures <= max_failure_ratio * len(window) and p99 <= max_p99_us


def recovery_seconds(
    result: LoadResult,
    before: PhaseFigures,
    fault_ended_s: float,
    window_end_s: float,
    slow_ms: float,
) -> float | None:
    """Seconds from the fault's end until the stack answers as it did before the fault.

    Recovered at the first moment ``t`` after the end such that the requests
    scheduled in ``[t, t + 1 s)`` failed no more often than before the fault
    (twice its failure ratio, at least 2%) and their p99 is within twice the
    p99 before (at least ``slow_ms``). None when that never happened in the
    window. Judging against the phase before, rather than against zero
    failures, keeps other load on a shared machine from passing for a slow
    recovery.
    """
    max_ratio = max(0.02, 2 * before.failed_total / before.requests) if before.requests else 0.02
    max_p99_us = max(slow_ms, 2 * (before.p99_ms or 0.0)) * 1000
    requests = sorted(
        (offset, status, latency)
        for offset, status, latency in zip(
            result.offset_us, result.status, result.latency_us, strict=True
        )
        if offset >= fault_ended_s * 1e6
    )
    steps = int((window_end_s - fault_ended_s - RECOVERY_WINDOW_S) / RECOVERY_STEP_S + 1e-6)
    for step in range(steps + 1):
        start_us = (fault_ended_s + step * RECOVERY_STEP_S) * 1e6
        window = [
            (status, latency)
            for offset, status, latency in requests
            if start_us <= offset < start_us + RECOVERY_WINDOW_S * 1e6
        ]
        if window and _good_window(window, max_ratio, max_p99_us):
            return round(step * RECOVERY_STEP_S, 2)
    return None


def _wait_until(t0_ns: int, offset_s: float) -> None:
    delay = t0_ns / 1e9 + offset_s - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def run_with_fault(
    base_url: str,
    accounts: list[tuple[int, str]],
    plan: LoadPlan,
    fault: Fault,
    *,
    slow_ms: float,
) -> FaultFigures:
    """Run ``plan`` against ``base_url``; switch ``fault`` on after ``before_s`` for ``fault_s``.

    ``slow_ms`` is the latency above which a request after the fault still
    counts as not recovered. The fault is always switched off, even when the
    load generator fails.
    """
    load_before = round(os.getloadavg()[0], 2)
    result, (started_s, ended_s) = run_generator(
        plan.spec(base_url, accounts), lambda proc: _drive_fault(proc, plan, fault)
    )
    bounds = {
        "before": (0.0, started_s),
        "during": (started_s, ended_s),
        "after": (ended_s, plan.window_s),
    }
    phases = {name: phase_figures(result, name, *bounds[name]) for name in PHASES}
    return FaultFigures(
        fault=fault.name,
        rate=plan.rate,
        fault_rate=plan.fault_rate if plan.fault_rate is not None else plan.rate,
        sent=len(result.status),
        fault_started_s=round(started_s, 3),
        fault_ended_s=round(ended_s, 3),
        recovery_s=recovery_seconds(result, phases["before"], ended_s, plan.window_s, slow_ms),
        slow_ms=slow_ms,
        loadgen_cpu_s=round(result.loadgen_cpu_s, 2),
        phases=phases,
        notes={"load_average_1m": {"before": load_before, "after": round(os.getloadavg()[0], 2)}},
    )


def _drive_fault(proc: subprocess.Popen[str], plan: LoadPlan, fault: Fault) -> tuple[float, float]:
    """Wait for the window to open, run the fault in it; its (start, end) from the window start."""
    assert proc.stdout is not None
    window_ns = None
    for line in proc.stdout:
        mark, _, stamp = line.partition(" ")
        if mark == MARK_START:
            window_ns = int(stamp)
            break
    if window_ns is None:
        raise LoadGeneratorError("the load generator never opened its measured window")
    _wait_until(window_ns, plan.before_s)
    started = time.monotonic()
    try:
        fault.start()
        _wait_until(window_ns, plan.before_s + plan.fault_s)
    finally:
        fault.stop()
    ended = time.monotonic()
    for line in proc.stdout:
        if line.startswith(MARK_DONE):
            break
    return started - window_ns / 1e9, ended - window_ns / 1e9


def write_figures(figures: FaultFigures, results_dir: Path, name: str) -> Path:
    """Write ``figures`` as ``<results_dir>/<name>.json``; return the path."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    path.write_text(figures.to_json() + "\n")
    return path


def closed_loop_capacity(
    base_url: str,
    accounts: list[tuple[int, str]],
    *,
    concurrency: int,
    seconds: float,
    weights: Sequence[int] = (50, 50, 0, 0, 0),
) -> float:
    """Requests per second the stack answers with 2xx under ``concurrency`` back-to-back loops."""
    spec = LoadSpec(
        base_url=base_url,
        accounts=accounts,
        mode="closed",
        concurrency=concurrency,
        warmup_s=1.0,
        duration_s=seconds,
        weights=list(weights),
    )
    result, _ = run_generator(spec, lambda proc: proc.communicate())
    ok = sum(1 for status in result.status if 200 <= status < 300)
    return ok / result.window_s
