"""Run the same faulty load under each sampling strategy and measure what the backend kept.

For each strategy the local stack is restarted with the strategy's
variables (services: ``OTEL_TRACES_SAMPLER``; collector: ``TRACES_PROCESSORS``),
two faults are switched on (flaky-auth: errors; slow-query on a share of
requests: slow traces), a bounded load of dashboards runs against
127.0.0.1, and Jaeger is asked for every trace id the load saw. The truth
(which requests failed, which were slow) comes from the load's own answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from services.common.scenarios import FLAKY_AUTH, SLOW_QUERY
from tracelab.progress import Progress
from tracelab.sampling import metrics
from tracelab.sampling.strategies import Strategy
from tracelab.scenarios.admin import ScenarioAdmin
from tracelab.scenarios.targets import Targets
from tracelab.scenarios.traffic import Answer, Traffic
from tracelab.shapes.backends import JaegerClient
from tracelab.stack.runner import Stack

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Load:
    """The load and the faults it runs with (identical for every strategy)."""

    requests: int = 300
    concurrency: int = 4
    error_rate: float = 0.1
    slow_share: float = 0.1
    slow_ms: int = 500
    drain_s: float = 12.0

    def faults(self) -> dict[str, dict[str, float]]:
        """Scenario parameters: flaky-auth for errors, slow-query for slow traces."""
        return {
            FLAKY_AUTH.name: {"rate": self.error_rate},
            SLOW_QUERY.name: {"scan_ms": self.slow_ms * 1.3, "share": self.slow_share},
        }


@dataclass
class StrategyResult:
    """What one strategy kept, and what the span metrics counted."""

    strategy: str
    description: str
    requests: int
    load_seconds: float
    errors_sent: int
    slow_sent: int
    kept: int = 0
    errors_kept: int = 0
    slow_kept: int = 0
    spans_exported: float = 0.0
    red_calls: float = 0.0
    red_errors: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def derived(self) -> dict[str, float | None]:
        """Shares and rates (None where the denominator is zero)."""

        def share(part: float, whole: float) -> float | None:
            return round(part / whole, 4) if whole else None

        return {
            "kept_share": share(self.kept, self.requests),
            "error_traces_kept_share": share(self.errors_kept, self.errors_sent),
            "slow_traces_kept_share": share(self.slow_kept, self.slow_sent),
            "spans_exported_per_s": round(self.spans_exported / self.load_seconds, 1)
            if self.load_seconds
            else None,
            "red_calls_seen_share": share(self.red_calls, self.requests),
            "red_errors_seen_share": share(self.red_errors, self.errors_sent),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the derived numbers."""
        return {**asdict(self), **self.derived}


# Expected seconds of each phase of one strategy (the progress estimate; the
# pace measured on the first phases corrects it): restarting the stack, one
# dashboard journey at a time, settling the span metrics, one Jaeger lookup.
RESTART_S = 25.0
DASHBOARD_S = 0.15
SETTLE_S = 6.0
LOOKUP_S = 0.01
HEARTBEAT_S = 15.0


def phase_weights(load: Load) -> list[float]:
    """Expected seconds of one strategy's phases: restart, load, drain, count."""
    return [
        RESTART_S,
        SETTLE_S + (16 + load.requests) * DASHBOARD_S / load.concurrency,
        load.drain_s + SETTLE_S,
        load.requests * LOOKUP_S,
    ]


def _kept(jaeger: JaegerClient, trace_id: str | None) -> bool:
    return trace_id is not None and jaeger.get_trace(trace_id) is not None


def run_strategy(
    root: Path,
    env: Mapping[str, str],
    strategy: Strategy,
    load: Load,
    progress: Progress,
) -> StrategyResult:
    """Restart the stack for ``strategy``, drive ``load``, measure; the stack stays up.

    Four phases of ``progress`` (``phase_weights``): restart, load, drain, count.
    """
    name = strategy.name
    with progress.phase(f"{name}: restart the stack with this strategy", every_s=HEARTBEAT_S):
        stack = Stack(root, env={**env, **strategy.collector_env})
        stack.down()
        info = stack.up(timeout=180, extra_env=dict(strategy.service_env))
    targets = Targets.from_urls(info.urls, log_dir=info.log_dir, token=info.admin_token)
    admin = ScenarioAdmin(targets.services, targets.token)
    traffic = Traffic(targets.frontend)
    try:
        what = f"{name}: {load.requests} dashboards, {load.concurrency} at a time, faults on"
        with progress.phase(what, every_s=HEARTBEAT_S):
            traffic.burst("dashboard", 16, load.concurrency)  # warm-up, faults off
            # Let the warm-up's spans leave the services (batch: 5 s) and reach the
            # span metrics (flushed every 5 s) before the "before" scrape.
            span_metrics = metrics.settled(info.urls["span_metrics"])
            before = (metrics.scrape(info.urls["collector_metrics"]), span_metrics)
            for fault, params in load.faults().items():
                admin.switch(fault, True, params)
            started = time.monotonic()
            answers: list[Answer] = traffic.burst("dashboard", load.requests, load.concurrency)
            load_seconds = time.monotonic() - started
        with progress.phase(f"{name}: faults off, drain the pipeline", every_s=HEARTBEAT_S):
            admin.all_off()
            time.sleep(load.drain_s)  # batch export + tail sampling's decision wait
            span_metrics = metrics.settled(info.urls["span_metrics"], minimum_s=0)
            after = (metrics.scrape(info.urls["collector_metrics"]), span_metrics)
    finally:
        admin.close()
        traffic.close()
    errors = [a for a in answers if a.status >= 500]
    slow = [a for a in answers if a.status < 500 and a.elapsed_ms >= load.slow_ms]
    result = StrategyResult(
        strategy.name,
        strategy.description,
        len(answers),
        round(load_seconds, 2),
        len(errors),
        len(slow),
    )
    lookup = f"{name}: ask Jaeger for the {len(answers)} traces"
    with progress.phase(lookup, every_s=HEARTBEAT_S), JaegerClient(info.urls["jaeger"]) as jaeger:
        kept = {a.trace_id for a in answers if _kept(jaeger, a.trace_id)}
    result.kept = len(kept)
    result.errors_kept = sum(a.trace_id in kept for a in errors)
    result.slow_kept = sum(a.trace_id in kept for a in slow)
    result.spans_exported = metrics.exported_spans(after[0]) - metrics.exported_spans(before[0])
    red_before, red_after = metrics.red(before[1]), metrics.red(after[1])
    result.red_calls = red_after["calls"] - red_before["calls"]
    result.red_errors = red_after["errors"] - red_before["errors"]
    return result


def compare(
    root: Path,
    env: Mapping[str, str],
    chosen: list[Strategy],
    load: Load,
    echo: Echo,
) -> list[StrategyResult]:
    """Every strategy in turn; afterwards the stack is stopped, or restarted in its
    default mode when it was running before. Progress lines go to ``echo``."""
    was_up = Stack(root, env=env).is_ready()
    last = "restart the stack in its default mode" if was_up else "stop the stack"
    progress = Progress(
        "sampling",
        phase_weights(load) * len(chosen) + [RESTART_S if was_up else SETTLE_S],
        echo=echo,
    )
    results = []
    try:
        for strategy in chosen:
            results.append(run_strategy(root, env, strategy, load, progress))
    finally:
        with progress.phase(last, every_s=HEARTBEAT_S):
            stack = Stack(root, env=env)
            stack.down()
            if was_up:
                stack.up(timeout=180)
    return results
