"""One benchmark run: private stack, capacity probe, interleaved rounds, results.

The stack gets its own run directory and free ports, so a developer's
``make up`` stack (or the e2e tests' one) keeps running beside it; every
configuration change restarts the five services through
``Stack.up(extra_env=...)`` (PostgreSQL, the collector and Jaeger keep
running), so each measurement starts from fresh service processes and warms
up again.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
import requests

from tracelab.bench.configs import (
    BenchConfig,
    fill_ports,
    load_stack_env,
    select_configs,
    service_env,
)
from tracelab.bench.driver import DRIVER_MODULES, StackProbe, run_load
from tracelab.bench.loadgen import LoadResult, LoadSpec
from tracelab.bench.metrics import LatencySummary, RoundMetrics, round_metrics
from tracelab.bench.stackenv import component_pids
from tracelab.bench.workload import account_numbers, seed_credentials
from tracelab.progress import Progress
from tracelab.stack import Stack, StackInfo
from tracelab.stack.config import free_port_env

Echo = Callable[[str], None]
PROJECT_LOCUSTFILE = Path("loadtest/locustfile.py")
# Seconds a measured phase costs beyond its warm-up and window: restarting
# the five services, logging in (the progress estimate's weights).
PHASE_OVERHEAD_S = 15.0


@dataclass(frozen=True)
class BenchSettings:
    """Everything that shapes a run (``tracelab bench`` options)."""

    root: Path
    out_dir: Path
    run_dir: Path
    configs: Sequence[str] | None = None
    rounds: int = 5
    duration_s: float = 30.0
    warmup_s: float = 10.0
    rate: float | None = None  # fixed offered load; None: probe, then load_fraction of it
    load_fraction: float = 0.5
    probe_s: float = 10.0
    probe_concurrency: Sequence[int] = (8, 32)
    accounts: int = 20
    seed: int = 4242
    extra_env: Mapping[str, str] = field(default_factory=dict)
    variants: Sequence[BenchConfig] = ()  # custom configurations after the standard ones
    stack_timeout_s: float = 180.0
    keep_stack: bool = False
    label: str = "bench"
    # "locust": the locustfile's users, paced (tracelab.bench.locustdrive);
    # "open-loop": tracelab.bench.loadgen's fixed schedule of the journeys.
    driver: str = "locust"
    locustfile: Path | None = None  # None: the project's loadtest/locustfile.py
    users: int = 0  # Locust users; 0: rate x pace_period_s
    pace_period_s: float = 1.0

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.duration_s <= 0 or self.warmup_s < 0:
            raise ValueError("rounds must be at least 1 and duration positive")
        if self.driver not in DRIVER_MODULES:
            raise ValueError(f"driver must be one of {', '.join(DRIVER_MODULES)}")
        if self.locustfile is not None and self.driver != "locust":
            raise ValueError("a locustfile needs the Locust driver")
        if not 0 < self.load_fraction <= 1:
            raise ValueError("load fraction must be in (0, 1]")

    @property
    def locustfile_path(self) -> Path:
        """The locustfile the Locust driver runs."""
        return self.locustfile or self.root / PROJECT_LOCUSTFILE

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        data = asdict(self)
        for key in ("root", "out_dir", "run_dir"):
            data[key] = str(data[key])
        data["locustfile"] = str(self.locustfile_path) if self.driver == "locust" else None
        data["probe_concurrency"] = list(self.probe_concurrency)
        data["extra_env"] = dict(self.extra_env)
        data["variants"] = [v.name for v in self.variants]
        return data


@dataclass(frozen=True)
class ProbeResult:
    """Closed-loop throughput at one concurrency, tracing off.

    ``throughput_rps`` counts the answers the journeys expect only: a stack
    that sheds load answers 503s fast, and they are not capacity.
    """

    concurrency: int
    throughput_rps: float
    latency: LatencySummary
    unexpected: int
    loadgen_core_fraction: float


@dataclass
class BenchRun:
    """A finished (or interrupted) run: what the report is made of."""

    settings: dict[str, Any]
    machine: dict[str, Any]
    configs: list[dict[str, Any]]
    probes: list[ProbeResult]
    capacity_rps: float | None
    target_rate: float
    rounds: list[RoundMetrics] = field(default_factory=list)
    raw: dict[str, LoadResult] = field(default_factory=dict)  # "<config>/<round>"
    started_at: str = ""
    finished_at: str = ""
    complete: bool = False


def describe_machine() -> dict[str, Any]:
    """CPU model, cores, memory, OS, Python and OpenTelemetry SDK versions, load."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "logical_cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "opentelemetry_sdk": metadata.version("opentelemetry-sdk"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def login_accounts(frontend_url: str, numbers: Sequence[int]) -> list[tuple[int, str]]:
    """Log each seed user in through the frontend; return (number, token) pairs."""

    def login(number: int) -> tuple[int, str]:
        email, password = seed_credentials(number)
        response = requests.post(
            f"{frontend_url}/api/login", json={"email": email, "password": password}, timeout=30
        )
        response.raise_for_status()
        return number, response.json()["token"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(login, numbers))


class BenchRunner:
    """Runs the probe and the interleaved rounds on a private stack."""

    def __init__(self, settings: BenchSettings, echo: Echo | None = None) -> None:
        self.settings = settings
        self.echo: Echo = echo or (lambda _msg: None)
        self.configs: list[BenchConfig] = [
            *select_configs(settings.configs),
            *settings.variants,
        ]
        self.base_env = {**load_stack_env(settings.root), **settings.extra_env}
        self.ports = free_port_env()
        self.stack = Stack(settings.root, run_dir=settings.run_dir, env=self.ports)
        self.progress: Progress | None = None  # made by run()

    # -- stack -------------------------------------------------------------------------
    def _up(self, config: BenchConfig) -> StackInfo:
        env = fill_ports(service_env(config, self.base_env), self.ports)
        return self.stack.up(timeout=self.settings.stack_timeout_s, extra_env=env)

    def _probe_handle(self, info: StackInfo) -> StackProbe:
        pids = component_pids(self.stack.run_dir)
        return StackProbe(
            pids=pids,
            logs={name: self.stack.log_path(name) for name in pids},
            collector_metrics_url=info.urls.get("collector_metrics"),
        )

    def _accounts(self, info: StackInfo) -> list[tuple[int, str]]:
        """Logged-in seed users for the open-loop generator (Locust users log in themselves)."""
        if self.settings.driver != "open-loop":
            return []
        return login_accounts(info.frontend_url, account_numbers(self.settings.accounts))

    def _spec(self, info: StackInfo, accounts: list[tuple[int, str]], **kw: Any) -> LoadSpec:
        s = self.settings
        return LoadSpec(
            base_url=info.frontend_url,
            accounts=accounts,
            driver=s.driver,
            locustfile=str(s.locustfile_path) if s.driver == "locust" else "",
            users=s.users,
            pace_period_s=s.pace_period_s,
            **kw,
        )

    # -- phases ------------------------------------------------------------------------
    def probe(self) -> list[ProbeResult]:
        """Closed-loop throughput of the untraced stack at each probe concurrency."""
        s = self.settings
        info = self._up(self.configs[0])
        accounts = self._accounts(info)
        results = []
        for concurrency in s.probe_concurrency:
            self._progress_start(f"probe: {concurrency} concurrent users, tracing off")
            spec = self._spec(
                info,
                accounts,
                mode="closed",
                concurrency=concurrency,
                warmup_s=min(3.0, s.probe_s / 2),
                duration_s=s.probe_s,
                seed=s.seed,
            )
            load, system = run_load(spec, self._probe_handle(info))
            m = round_metrics("probe", 0, load, system)
            results.append(
                ProbeResult(
                    concurrency,
                    round((m.requests - m.unexpected) / s.probe_s, 3),
                    m.latency,
                    m.unexpected,
                    m.loadgen_core_fraction,
                )
            )
            self._progress_done(
                f"{results[-1].throughput_rps:.1f} req/s answered as expected "
                f"({m.unexpected} unexpected), p99 {m.latency.p99_ms:.1f} ms, "
                f"load generator {m.loadgen_core_fraction:.0%}"
            )
        return results

    def measure(
        self, config: BenchConfig, round_index: int, rate: float
    ) -> tuple[RoundMetrics, LoadResult]:
        """One measured round of ``config`` at ``rate`` (restarting the stack for it)."""
        s = self.settings
        info = self._up(config)
        accounts = self._accounts(info)
        spec = self._spec(
            info,
            accounts,
            mode="open",
            rate=rate,
            warmup_s=s.warmup_s,
            duration_s=s.duration_s,
            seed=s.seed + round_index,
        )
        load, system = run_load(spec, self._probe_handle(info))
        return round_metrics(config.name, round_index, load, system), load

    # -- progress ------------------------------------------------------------------------
    def phase_weights(self) -> list[float]:
        """Expected seconds of every phase: the probe levels, then each configuration's rounds."""
        s = self.settings
        probe = (
            []
            if s.rate
            else [s.probe_s + min(3.0, s.probe_s / 2) + PHASE_OVERHEAD_S] * len(s.probe_concurrency)
        )
        measured = s.warmup_s + s.duration_s + PHASE_OVERHEAD_S
        return [*probe, *[measured] * (s.rounds * len(self.configs))]

    def _progress_start(self, text: str) -> None:
        if self.progress is not None:
            self.progress.start(text)

    def _progress_done(self, result: str) -> None:
        if self.progress is not None:
            self.progress.done(result)
        else:
            self.echo(result)

    # -- whole run -----------------------------------------------------------------------
    def run(self, on_progress: Callable[[BenchRun], None] | None = None) -> BenchRun:
        """Probe (unless a rate is fixed), then every round; the stack is stopped after."""
        s = self.settings
        started = datetime.now(UTC).isoformat(timespec="seconds")
        self.progress = Progress("bench", self.phase_weights(), echo=self.echo)
        try:
            probes = [] if s.rate else self.probe()
            capacity = max((p.throughput_rps for p in probes), default=None)
            rate = s.rate or round(s.load_fraction * (capacity or 0.0), 1)
            if rate <= 0:
                raise RuntimeError("the capacity probe measured no throughput")
            self.echo(f"offered load: {rate:.1f} req/s ({driver_description(s)})")
            run = BenchRun(
                settings=s.to_dict(),
                machine=describe_machine(),
                configs=[{**asdict(c), "env": dict(c.env)} for c in self.configs],
                probes=probes,
                capacity_rps=capacity,
                target_rate=rate,
                started_at=started,
            )
            for round_index in range(1, s.rounds + 1):
                for config in self.configs:
                    self._progress_start(f"round {round_index}/{s.rounds} {config.name}")
                    metrics, load = self.measure(config, round_index, rate)
                    run.rounds.append(metrics)
                    run.raw[f"{config.name}/{round_index}"] = load
                    self._progress_done(progress_line(metrics))
                    if on_progress:
                        on_progress(run)
            run.complete = True
        finally:
            if not s.keep_stack:
                self.stack.down()
        run.machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        run.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        return run


def driver_description(settings: BenchSettings) -> str:
    """How the load is driven, as the report and the console name it."""
    if settings.driver == "open-loop":
        return "open-loop generator: sends on a fixed seeded schedule"
    users = f"{settings.users} users" if settings.users else "users = rate x 1 s"
    return f"Locust, {settings.locustfile_path.name}, {users}, paced to the rate"


def progress_line(m: RoundMetrics) -> str:
    """A measured round's figures (the progress line before it names the round)."""
    state = "valid" if m.valid else "INVALID: " + "; ".join(m.invalid_reasons)
    return (
        f"{m.throughput_rps:.1f} req/s (sent {m.achieved_rate_rps:.1f}/{m.target_rate:.1f} per s)  "
        f"CPU {m.service_cpu_s_per_1k:.2f} s/1k  mean {m.latency.mean_ms:.2f} ms  "
        f"p99 {m.latency.p99_ms:.2f} ms  spans/req {m.spans_per_request:.2f}  "
        f"loadgen {m.loadgen_core_fraction:.0%}  other {m.foreign_core_fraction:.0%}  [{state}]"
    )


def timestamp() -> str:
    """A sortable local timestamp for result folder names."""
    return time.strftime("%Y%m%d-%H%M%S")
