"""Run the load driver as a subprocess and sample the stack at its markers.

The driver is Locust (:mod:`tracelab.bench.locustdrive`, the default of
``tracelab bench``) or the open-loop generator (:mod:`tracelab.bench.loadgen`);
both speak the same marker lines and write the same result file.

At ``MEASURE_START`` and ``MEASURE_END`` the orchestrator snapshots the CPU
times and RSS of every component, the collector's span counters and the
services' log sizes; the differences are the window's measurements. The
orchestrator itself sleeps on the pipe in between, so it adds no load.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tracelab.bench import logscan, procs, promtext
from tracelab.bench.loadgen import MARK_DONE, MARK_END, MARK_START, LoadResult, LoadSpec
from tracelab.bench.metrics import SERVICES, SystemWindow

T = TypeVar("T")

DRIVER_MODULES = {"locust": "tracelab.bench.locustdrive", "open-loop": "tracelab.bench.loadgen"}


class LoadGeneratorError(RuntimeError):
    """The load generator failed or never opened its measured window."""


@dataclass(frozen=True)
class StackProbe:
    """Where to look at a running stack: component pids, logs, collector metrics."""

    pids: Mapping[str, int]
    logs: Mapping[str, Path]
    collector_metrics_url: str | None


@dataclass
class _Snapshot:
    samples: dict[str, procs.ComponentSample]
    counters: promtext.SpanCounters | None
    log_offsets: dict[str, int]
    machine: procs.MachineTimes


def _snapshot(probe: StackProbe) -> _Snapshot:
    counters = promtext.scrape(probe.collector_metrics_url) if probe.collector_metrics_url else None
    return _Snapshot(
        procs.sample_components(probe.pids),
        counters,
        logscan.offsets(probe.logs),
        procs.machine_times(),
    )


def _window(probe: StackProbe, start: _Snapshot, end: _Snapshot) -> SystemWindow:
    spans = (
        end.counters.minus(start.counters)
        if end.counters is not None and start.counters is not None
        else promtext.SpanCounters()
    )
    service_logs = {name: path for name, path in probe.logs.items() if name in SERVICES}
    lost = logscan.count_all(service_logs, start.log_offsets)
    return SystemWindow(
        cpu_s=procs.cpu_deltas(start.samples, end.samples),
        rss_bytes={name: sample.rss_bytes for name, sample in end.samples.items()},
        spans_accepted=spans.accepted,
        spans_sent=spans.sent,
        spans_dropped_collector=spans.dropped,
        spans_dropped_sdk=lost.dropped_spans,
        failed_exports=lost.failed_exports,
        machine_busy_s=end.machine.busy - start.machine.busy,
        steal_s=end.machine.steal - start.machine.steal,
    )


def _follow_markers(
    proc: subprocess.Popen[str], probe: StackProbe
) -> tuple[_Snapshot | None, _Snapshot | None]:
    start = end = None
    assert proc.stdout is not None
    for line in proc.stdout:
        mark = line.split(" ", 1)[0].strip()
        if mark == MARK_START:
            start = _snapshot(probe)
        elif mark == MARK_END:
            end = _snapshot(probe)
        elif mark == MARK_DONE:
            break
    return start, end


def run_generator(
    spec: LoadSpec,
    follow: Callable[[subprocess.Popen[str]], T],
    workdir: Path | None = None,
) -> tuple[LoadResult, T]:
    """Run the load generator on ``spec`` as a subprocess; ``follow`` reads its marker lines.

    Returns the raw timings and what ``follow`` returned. A hung generator is
    killed after the run's length plus a minute.
    """
    with tempfile.TemporaryDirectory(prefix="tracelab-load-", dir=workdir) as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        err_path = Path(tmp) / "stderr.log"
        spec_path.write_text(spec.to_json())
        # Locust users log in before the warm-up starts: give them their time too.
        limit = (
            spec.warmup_s + spec.duration_s + spec.timeout_s + 60 + 60 * (spec.driver == "locust")
        )
        with (
            err_path.open("w") as err,
            subprocess.Popen(
                [sys.executable, "-m", DRIVER_MODULES[spec.driver], str(spec_path), str(out_path)],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            ) as proc,
        ):
            # A hung generator must not hang the benchmark: kill it after `limit`.
            watchdog = threading.Timer(limit, proc.kill)
            watchdog.start()
            try:
                followed = follow(proc)
                proc.wait()
            finally:
                watchdog.cancel()
        if proc.returncode != 0 or not out_path.is_file():
            raise LoadGeneratorError(
                f"the load generator failed (exit {proc.returncode}): "
                f"{err_path.read_text().strip()[-2000:]}"
            )
        return LoadResult.from_json(out_path.read_text()), followed


def run_load(
    spec: LoadSpec, probe: StackProbe, workdir: Path | None = None
) -> tuple[LoadResult, SystemWindow]:
    """Drive ``spec`` against the stack; return raw timings and the window's measurements."""
    result, (start, end) = run_generator(spec, lambda proc: _follow_markers(proc, probe), workdir)
    if start is None or end is None:
        raise LoadGeneratorError("the load generator never opened or closed its window")
    return result, _window(probe, start, end)
