"""Fixtures and measurements of the telemetry-outage tests (test_telemetry_outages.py).

A private local stack (its own run directory and free ports) carries an
open-loop load from :mod:`tracelab.bench.loadgen` while the collector or
Jaeger is paused with SIGSTOP. Afterwards:

- requests: failures by status, p50/p99 latency before, during and after the
  fault (latency from the scheduled send time, as the generator measures);
- spans: every answered request names its trace (``traceresponse``); its
  journey's golden shape (tests/shapes) says how many spans the trace has, so
  what Jaeger holds is counted against what was sent, trace by trace;
- counters: the services' span-loss counters (docs/telemetry.md) and the
  collector's own, from their Prometheus endpoints.

Each test writes its figures to ``results/resilience/<test>.json``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tracelab.bench import procs, promtext
from tracelab.bench.loadgen import MARK_DONE, MARK_START, LoadResult, LoadSpec
from tracelab.bench.runner import login_accounts
from tracelab.bench.workload import JOURNEYS, account_numbers
from tracelab.shapes.backends import JaegerClient
from tracelab.shapes.shape import load_shape
from tracelab.stack import Stack, StackInfo
from tracelab.stack import config as stack_config
from tracelab.stack.config import free_port_env
from tracelab.stack.paths import repo_root
from tracelab.stack.state import load_state

ROOT = repo_root()
RESULTS_DIR = ROOT / "results" / "resilience"
SHAPES = ROOT / "tests" / "shapes"
# Spans of one trace of each journey, from its golden shape.
SPANS_PER_JOURNEY = {j.name: len(load_shape(SHAPES / f"{j.name}.yaml").nodes()) for j in JOURNEYS}
EXPECTED_STATUS = {j.name: j.expected_status for j in JOURNEYS}
# Counters reach the collector every second and the loss log line comes every
# 2 s, so a test reads them soon after the load; the deployments keep 10 s.
TEST_ENV = {"OTEL_METRIC_EXPORT_INTERVAL": "1000", "TRACELAB_SPAN_LOSS_LOG_INTERVAL_S": "2"}
PHASES = ("before", "during", "after")


@dataclass
class OutageStack:
    """The private stack under test and what the tests need from it."""

    stack: Stack
    info: StackInfo
    accounts: list[tuple[int, str]]
    env: dict[str, str] = field(default_factory=dict)

    def pid(self, component: str) -> int:
        """The recorded pid of ``component`` (``otel-collector``, ``jaeger``, a service)."""
        state = load_state(self.stack.run_dir) or {}
        return int(state["components"][component]["pid"])

    def ensure(self, extra_env: Mapping[str, str]) -> None:
        """Run the services with ``TEST_ENV`` plus ``extra_env`` (restarting them if needed)."""
        wanted = {**TEST_ENV, **extra_env}
        if wanted != self.env:
            self.info = self.stack.up(timeout=180, extra_env=wanted)
            self.env = wanted

    def rss_mib(self) -> dict[str, float]:
        """Resident memory of every component now, MiB (process tree included)."""
        state = load_state(self.stack.run_dir) or {}
        pids = {name: int(c["pid"]) for name, c in state["components"].items() if c.get("pid")}
        samples = procs.sample_components(pids)
        return {name: round(sample.rss_bytes / 2**20, 1) for name, sample in samples.items()}

    @property
    def jaeger(self) -> JaegerClient:
        return JaegerClient(self.info.urls["jaeger"])

    @property
    def services_metrics_url(self) -> str:
        """The collector's Prometheus endpoint carrying the services' counters."""
        return self.info.urls["span_metrics"]

    @property
    def collector_metrics_url(self) -> str:
        """The collector's own metrics."""
        return self.info.urls["collector_metrics"]


def outage_stack(
    stack_env: Mapping[str, str] | None = None, services_env: Mapping[str, str] | None = None
) -> Iterator[OutageStack]:
    """Start a private stack (``stack_env``: for every component); stop it afterwards.

    ``services_env`` is added to ``TEST_ENV`` for the services.
    """
    run_dir = Path(tempfile.mkdtemp(prefix="tracelab-resilience-"))
    run_dir.chmod(0o755)  # PostgreSQL runs as another user when we are root
    stack = Stack(ROOT, run_dir=run_dir, env={**free_port_env(), **(stack_env or {})})
    env = {**TEST_ENV, **(services_env or {})}
    try:
        info = stack.up(timeout=180, extra_env=env)
        accounts = login_accounts(info.frontend_url, account_numbers(20))
        yield OutageStack(stack, info, accounts, env)
    finally:
        stack.down(timeout=10)
        shutil.rmtree(run_dir, ignore_errors=True)


@contextmanager
def paused(pid: int) -> Iterator[None]:
    """SIGSTOP ``pid`` for the duration of the block (SIGCONT however it ends)."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@dataclass(frozen=True)
class Timeline:
    """A run: ``before_s`` of normal load, ``fault_s`` with the fault on, ``after_s`` more."""

    before_s: float
    fault_s: float
    after_s: float

    @property
    def duration_s(self) -> float:
        return self.before_s + self.fault_s + self.after_s

    def phase(self, offset_us: int) -> str:
        """The phase a request scheduled ``offset_us`` into the window belongs to."""
        offset = offset_us / 1e6
        if offset < self.before_s:
            return "before"
        if offset < self.before_s + self.fault_s:
            return "during"
        return "after"


def run_load_with_fault(
    target: OutageStack,
    timeline: Timeline,
    fault: Callable[[], AbstractContextManager[Any]],
    *,
    rate: float,
    warmup_s: float = 3.0,
    seed: int = 7,
) -> LoadResult:
    """Drive the open-loop generator; hold ``fault()`` open during the fault phase."""
    spec = LoadSpec(
        base_url=target.info.frontend_url,
        accounts=target.accounts,
        rate=rate,
        warmup_s=warmup_s,
        duration_s=timeline.duration_s,
        seed=seed,
        timeout_s=10.0,
    )
    with tempfile.TemporaryDirectory(prefix="tracelab-outage-load-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(spec.to_json())
        with subprocess.Popen(
            [sys.executable, "-m", "tracelab.bench.loadgen", str(spec_path), str(out_path)],
            stdout=subprocess.PIPE,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            watchdog = threading.Timer(warmup_s + timeline.duration_s + 60, proc.kill)
            watchdog.start()
            try:
                window_start_ns = _wait_for_mark(proc.stdout, MARK_START)
                _sleep_until(window_start_ns + timeline.before_s * 1e9)
                with fault():
                    _sleep_until(window_start_ns + (timeline.before_s + timeline.fault_s) * 1e9)
                _wait_for_mark(proc.stdout, MARK_DONE)
                proc.wait()
            finally:
                watchdog.cancel()
        assert proc.returncode == 0, f"the load generator failed (exit {proc.returncode})"
        return LoadResult.from_json(out_path.read_text())


def _wait_for_mark(lines: Any, mark: str) -> int:
    for line in lines:
        name, _, stamp = line.strip().partition(" ")
        if name == mark:
            return int(stamp)
    raise AssertionError(f"the load generator ended before {mark}")


def _sleep_until(monotonic_ns: float) -> None:
    # time.monotonic_ns() is CLOCK_MONOTONIC, the generator's clock too.
    delay = (monotonic_ns - time.monotonic_ns()) / 1e9
    if delay > 0:
        time.sleep(delay)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def request_figures(result: LoadResult, timeline: Timeline) -> dict[str, dict[str, Any]]:
    """Per phase: requests, unexpected answers by status, p50/p99 latency (ms)."""
    figures: dict[str, dict[str, Any]] = {}
    for phase in PHASES:
        rows = [
            (result.journeys[j], status, latency / 1000)
            for j, status, latency, offset in zip(
                result.journey, result.status, result.latency_us, result.offset_us, strict=True
            )
            if timeline.phase(offset) == phase
        ]
        failed = Counter(str(status) for name, status, _ in rows if status != EXPECTED_STATUS[name])
        latencies = [ms for _, _, ms in rows]
        figures[phase] = {
            "requests": len(rows),
            "failed_by_status": dict(failed),
            "p50_ms": _round(percentile(latencies, 0.50)),
            "p99_ms": _round(percentile(latencies, 0.99)),
        }
    return figures


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def failed_requests(figures: Mapping[str, Mapping[str, Any]]) -> int:
    """Every unexpected answer of every phase."""
    return sum(sum(phase["failed_by_status"].values()) for phase in figures.values())


@dataclass
class SpanCount:
    """What a set of traces should hold and what the backend holds of it."""

    traces: int = 0
    expected: int = 0
    found: int = 0
    duplicates: int = 0

    @property
    def lost(self) -> int:
        return self.expected - self.found

    def to_dict(self) -> dict[str, int]:
        return {
            "traces": self.traces,
            "spans_expected": self.expected,
            "spans_found": self.found,
            "spans_lost": self.lost,
            "duplicate_spans": self.duplicates,
        }


def expected_traces(result: LoadResult, timeline: Timeline) -> dict[str, tuple[str, int]]:
    """trace id -> (phase, spans its journey's shape has), for every answered request."""
    traces: dict[str, tuple[str, int]] = {}
    for journey, trace_id, offset in zip(
        result.journey, result.trace_id, result.offset_us, strict=True
    ):
        if trace_id:
            name = result.journeys[journey]
            traces[trace_id] = (timeline.phase(offset), SPANS_PER_JOURNEY[name])
    return traces


def _unique_spans(jaeger_url: str, trace_id: str) -> tuple[int, int]:
    trace = JaegerClient(jaeger_url).get_trace(trace_id)
    if trace is None:
        return 0, 0
    unique = len({span.span_id for span in trace.spans})
    return unique, len(trace.spans) - unique


def count_spans(
    jaeger_url: str,
    traces: Mapping[str, tuple[str, int]],
    *,
    timeout_s: float = 90.0,
    settle_s: float = 20.0,
) -> dict[str, SpanCount]:
    """Poll Jaeger until every trace is complete (or nothing arrives for ``settle_s``).

    Returns the counts per phase and in total (key ``all``).
    """
    found: dict[str, tuple[int, int]] = {}
    pending = dict(traces)
    deadline = time.monotonic() + timeout_s
    last_progress = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        while pending:
            ids = list(pending)
            for trace_id, counts in zip(
                ids, pool.map(lambda t: _unique_spans(jaeger_url, t), ids), strict=True
            ):
                if counts != found.get(trace_id, (0, 0)):
                    last_progress = time.monotonic()
                found[trace_id] = counts
                if counts[0] >= pending[trace_id][1]:
                    del pending[trace_id]
            now = time.monotonic()
            if not pending or now > deadline or now - last_progress > settle_s:
                break
            time.sleep(1.0)
    totals = {name: SpanCount() for name in (*PHASES, "all")}
    for trace_id, (phase, expected) in traces.items():
        unique, duplicates = found.get(trace_id, (0, 0))
        for key in (phase, "all"):
            count = totals[key]
            count.traces += 1
            count.expected += expected
            count.found += min(unique, expected)
            count.duplicates += duplicates + max(0, unique - expected)
    return totals


def scrape(url: str) -> list[promtext.Sample]:
    """Every sample of a Prometheus endpoint."""
    response = requests.get(url, timeout=5)
    response.raise_for_status()
    return promtext.parse(response.text)


def service_loss_counters(url: str) -> dict[str, dict[str, int]]:
    """Per service: spans dropped on a full queue, spans and exports lost to failed exports."""
    samples = scrape(url)
    return {name: promtext.service_loss(samples, name) for name in stack_config.SERVICES}


def lost_in_services(counters: Mapping[str, Mapping[str, int]]) -> int:
    """Spans the services' counters say never left them."""
    return sum(c["dropped_queue_full"] + c["export_failed_spans"] for c in counters.values())


def collector_counters(url: str) -> dict[str, int]:
    """The collector's span counters: refused, failed to send or to enqueue, still queued."""
    samples = scrape(url)
    counts = promtext.SpanCounters.from_samples(samples)
    return {
        "accepted": int(counts.accepted),
        "refused": int(counts.refused),
        "send_failed": int(promtext.total(samples, promtext.SEND_FAILED)),
        "enqueue_failed": int(promtext.total(samples, promtext.ENQUEUE_FAILED)),
        "queue_size": int(promtext.total(samples, "otelcol_exporter_queue_size")),
        "lost": int(counts.dropped),
    }


def counters_delta(after: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    """``after - before`` for nested dicts of numbers."""
    return {
        key: counters_delta(value, before.get(key, {}))
        if isinstance(value, Mapping)
        else value - before.get(key, 0)
        for key, value in after.items()
    }


def wait_for(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.5) -> bool:
    """Poll ``condition`` until it holds or ``timeout_s`` passes; its last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval_s)


def loss_log_lines(log: Path, offset: int) -> list[dict[str, Any]]:
    """The span-loss log lines written to ``log`` after byte ``offset``."""
    lines = []
    with log.open("rb") as handle:
        handle.seek(offset)
        for raw in handle:
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if entry.get("logger") == "services.common.span_loss":
                lines.append(entry)
    return lines


def write_results(name: str, figures: Mapping[str, Any]) -> Path:
    """Write ``figures`` to ``results/resilience/<name>.json``; return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return path


def measure_outage(
    target: OutageStack, component: str, timeline: Timeline, rate: float
) -> dict[str, Any]:
    """Load ``target`` at ``rate`` with ``component`` paused for the fault phase; every figure."""
    services_before = service_loss_counters(target.services_metrics_url)
    collector_before = collector_counters(target.collector_metrics_url)
    rss: dict[str, dict[str, float]] = {"before": target.rss_mib()}

    @contextmanager
    def fault() -> Iterator[None]:
        with paused(target.pid(component)):
            yield
            rss["end_of_fault"] = target.rss_mib()  # the queues are fullest now

    result = run_load_with_fault(target, timeline, fault, rate=rate)
    rss["after"] = target.rss_mib()
    spans = count_spans(target.info.urls["jaeger"], expected_traces(result, timeline))
    # Fresh counters: the services push theirs every second (TEST_ENV).
    time.sleep(3)
    return {
        "fault": f"{component} paused (SIGSTOP) for {timeline.fault_s:g} s",
        "rate_per_s": rate,
        "timeline_s": {
            "before": timeline.before_s,
            "during": timeline.fault_s,
            "after": timeline.after_s,
        },
        "requests": request_figures(result, timeline),
        "spans": {phase: count.to_dict() for phase, count in spans.items()},
        "service_counters": counters_delta(
            service_loss_counters(target.services_metrics_url), services_before
        ),
        "collector_counters": counters_delta(
            collector_counters(target.collector_metrics_url), collector_before
        ),
        "rss_mib": rss,
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.resilience.telemetry_support [--pause S] [--rate R] [COMPONENT...]``.

    The measurement behind docs/telemetry.md: each component (default: the
    collector, then Jaeger) paused for ``--pause`` seconds under ``--rate``
    requests/s, on a private stack; figures in results/resilience/measure-*.json.
    """
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("components", nargs="*", default=[stack_config.COLLECTOR, "jaeger"])
    parser.add_argument("--pause", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--before", type=float, default=15.0)
    parser.add_argument("--after", type=float, default=30.0)
    parser.add_argument("--stack-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--services-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--label", default="", help="added to the result file names")
    args = parser.parse_args(argv)
    stack_env = dict(item.split("=", 1) for item in args.stack_env)
    services_env = dict(item.split("=", 1) for item in args.services_env)
    timeline = Timeline(args.before, args.pause, args.after)
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        for target in outage_stack(stack_env, services_env):
            for component in args.components:
                figures = measure_outage(target, component, timeline, args.rate)
                figures["stack_env"], figures["services_env"] = stack_env, services_env
                name = f"measure-{component}-{args.pause:g}s{args.label}"
                path = write_results(name, figures)
                print(f"{component}: {json.dumps(figures['spans']['all'])} -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
