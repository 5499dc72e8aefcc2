"""One exact run: a private stack under callgrind, the plan driven once per window, dumps read."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import requests

from services.common.sampling import configured_probability
from services.common.telemetry import FLUSH_SIGNAL_VAR, FLUSHED_MESSAGE
from tracelab.bench.configs import BenchConfig, fill_ports, load_stack_env, service_env
from tracelab.bench.exact import callgrind
from tracelab.bench.exact.analysis import ABLATION_PREFIX
from tracelab.bench.exact.plan import PlannedRequest, build_plan
from tracelab.bench.metrics import SERVICES
from tracelab.bench.runner import describe_machine
from tracelab.bench.stackenv import component_pids
from tracelab.bench.workload import Account, account_numbers, seed_credentials
from tracelab.progress import Progress
from tracelab.stack import Stack
from tracelab.stack.config import COLLECTOR, JAEGER, POSTGRES, free_port_env

Echo = Callable[[str], None]
FLUSH_SIGNAL = "SIGUSR2"
# Every knob that makes the counts repeat; the package docstring says why each.
EXACT_ENV: dict[str, str] = {
    "PYTHONHASHSEED": "0",
    FLUSH_SIGNAL_VAR: FLUSH_SIGNAL,
    "OTEL_BSP_SCHEDULE_DELAY": "3600000",
    "OTEL_BLRP_SCHEDULE_DELAY": "3600000",
    "OTEL_METRIC_EXPORT_INTERVAL": "3600000",
    "TRACELAB_SPAN_LOSS_LOG_INTERVAL_S": "3600",
    # callgrind makes a request 20-50x slower: budgets and timeouts must not fire.
    "REQUEST_BUDGET_SECONDS": "600",
    "HTTP_TIMEOUT_SECONDS": "600",
    "MAX_QUEUE_WAIT_MS": "600000",
}
# The stack without the console (it is no part of a request and polls on its own).
COMPONENTS = (POSTGRES, COLLECTOR, JAEGER, *SERVICES)


@dataclass(frozen=True)
class ExactSettings:
    """What shapes an exact run (``tracelab bench-exact`` options)."""

    root: Path
    out_dir: Path
    run_dir: Path
    configs: Sequence[BenchConfig]
    requests: int = 40
    warmup: int = 20
    windows: int = 2
    ablation_windows: int = 1
    accounts: int = 4
    seed: int = 4242
    stack_timeout_s: float = 300.0
    flush_timeout_s: float = 120.0
    label: str = "bench-exact"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return {
            "requests": self.requests,
            "warmup": self.warmup,
            "windows": self.windows,
            "ablation_windows": self.ablation_windows,
            "accounts": self.accounts,
            "seed": self.seed,
            "configs": [c.name for c in self.configs],
            "exact_env": EXACT_ENV,
            "label": self.label,
        }


@dataclass
class ConfigResult:
    """A configuration's windows: instructions per service (serving processes), and checks."""

    name: str
    description: str
    env: dict[str, str]
    probability: float
    sampled_requests: int
    windows: list[dict[str, int]] = field(default_factory=list)
    functions: dict[str, int] = field(default_factory=dict)  # "object\tfunction" -> Ir, window 1
    unexpected_statuses: int = 0
    wall_s: float = 0.0


@dataclass
class ExactRun:
    """A finished (or partial) run."""

    settings: dict[str, Any]
    machine: dict[str, Any]
    results: list[ConfigResult] = field(default_factory=list)
    started_at: str = ""
    finished_at: str = ""
    wall_s: float = 0.0
    complete: bool = False


def probability_of(config: BenchConfig) -> float:
    """The sampling probability ``config`` sets (0 with the SDK disabled)."""
    env = config.env
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return 0.0
    found = configured_probability(
        env.get("OTEL_TRACES_SAMPLER"), env.get("OTEL_TRACES_SAMPLER_ARG")
    )
    return 1.0 if found is None else found


def serving_pids(pid: int) -> list[int]:
    """The processes that serve requests: a gunicorn master's workers, else the process."""
    try:
        children = psutil.Process(pid).children()
    except psutil.Error:
        return []
    return [child.pid for child in children] or [pid]


class ExactRunner:
    """Runs every configuration's windows on one private stack under callgrind."""

    def __init__(self, settings: ExactSettings, echo: Echo | None = None) -> None:
        self.settings = settings
        self.echo: Echo = echo or (lambda _msg: None)
        self.base_env = {**load_stack_env(settings.root), **EXACT_ENV}
        self.ports = free_port_env()
        self.dump_dir = settings.run_dir / "callgrind"
        self.stack = Stack(
            settings.root,
            run_dir=settings.run_dir,
            env=self.ports,
            echo=self.echo,
            service_wrapper=lambda name, argv: callgrind.wrapper_argv(self.dump_dir, name, argv),
        )

    # -- one configuration -----------------------------------------------------------
    def _flush(self, pids: Mapping[str, list[int]]) -> None:
        """Make every service flush its exporters; wait for each to say it did."""
        before = {name: self._flushed_count(name) for name in pids}
        for group in pids.values():
            for pid in group:
                os.kill(pid, signal.Signals[FLUSH_SIGNAL])
        deadline = time.monotonic() + self.settings.flush_timeout_s
        waiting = dict(before)
        while waiting:
            waiting = {
                name: count
                for name, count in waiting.items()
                if self._flushed_count(name) < count + len(pids[name])
            }
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(f"no flush from {', '.join(waiting)} within the timeout")
            time.sleep(0.2)

    def _flushed_count(self, name: str) -> int:
        path = self.stack.log_path(name)
        return path.read_text(errors="replace").count(FLUSHED_MESSAGE) if path.is_file() else 0

    def _control_all(self, pids: Mapping[str, list[int]], *args: str) -> None:
        every = [pid for group in pids.values() for pid in group]
        with ThreadPoolExecutor(max_workers=len(every)) as pool:
            list(pool.map(lambda pid: callgrind.control(pid, *args), every))

    def _login(self, url: str) -> list[Account]:
        accounts = []
        for number in account_numbers(self.settings.accounts):
            email, password = seed_credentials(number)
            response = requests.post(
                f"{url}/api/login", json={"email": email, "password": password}, timeout=600
            )
            response.raise_for_status()
            accounts.append(Account(number, response.json()["token"]))
        return accounts

    @staticmethod
    def _drive(session: requests.Session, url: str, plan: Sequence[PlannedRequest]) -> int:
        """Send the plan one request at a time; return how many answered unexpectedly."""
        from tracelab.bench.workload import JOURNEYS

        unexpected = 0
        for planned in plan:
            r = planned.request
            response = session.request(
                r.method, url + r.path, headers=r.headers, json=r.body, timeout=600
            )
            unexpected += response.status_code != JOURNEYS[r.journey].expected_status
        return unexpected

    def measure(self, config: BenchConfig, progress: Progress) -> ConfigResult:
        """Start the services in ``config`` under callgrind, warm up, count each window."""
        s = self.settings
        started = time.monotonic()
        out = self.dump_dir / config.name
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*"):
            old.unlink()
        self.stack.service_wrapper = lambda name, argv: callgrind.wrapper_argv(out, name, argv)
        env = fill_ports(service_env(config, self.base_env), self.ports)
        info = self.stack.up(timeout=s.stack_timeout_s, components=COMPONENTS, extra_env=env)
        recorded = component_pids(self.stack.run_dir)
        pids = {name: serving_pids(recorded[name]) for name in SERVICES}
        url = info.frontend_url
        accounts = self._login(url)
        windows = s.ablation_windows if config.name.startswith(ABLATION_PREFIX) else s.windows
        probability = probability_of(config)
        warmup = build_plan(s.warmup, accounts, s.seed + 1, probability)
        plan = build_plan(s.requests, accounts, s.seed, probability)
        result = ConfigResult(
            config.name,
            config.description,
            dict(config.env),
            probability,
            sum(p.sampled for p in plan),
        )
        with requests.Session() as session:
            result.unexpected_statuses += self._drive(session, url, warmup)
            self._flush(pids)
            self._control_all(pids, "--instr=on")
            for window in range(1, windows + 1):
                progress.echo(progress.line(f"{config.name}: window {window}/{windows}"))
                result.unexpected_statuses += self._drive(session, url, plan)
                time.sleep(0.5)  # the last request's spans end after its answer
                self._flush(pids)
                self._control_all(pids, f"--dump=w{window}")
        for window in range(1, windows + 1):
            counts: dict[str, int] = {}
            for name, group in pids.items():
                dumps = [callgrind.dump_named(out, name, pid, f"w{window}") for pid in group]
                counts[name] = sum(d.total for d in dumps)
                if window == 1:
                    for (obj, fn), cost in callgrind.merge_functions(dumps).items():
                        key = f"{obj}\t{fn}"
                        result.functions[key] = result.functions.get(key, 0) + cost
            result.windows.append(counts)
        result.wall_s = round(time.monotonic() - started, 1)
        return result

    # -- whole run ---------------------------------------------------------------------
    def run(self, on_progress: Callable[[ExactRun], None] | None = None) -> ExactRun:
        """Every configuration in turn; the stack is stopped after."""
        s = self.settings
        missing = callgrind.tools_missing()
        if missing:
            raise RuntimeError(f"{', '.join(missing)} not found: apt-get install valgrind")
        started = time.monotonic()
        run = ExactRun(
            settings=s.to_dict(),
            machine=describe_machine(),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        progress = Progress("bench-exact", [60.0] * len(s.configs), echo=self.echo)
        try:
            for config in s.configs:
                with progress.phase(f"{config.name}: services under callgrind", every_s=30):
                    result = self.measure(config, progress)
                run.results.append(result)
                totals = [sum(w.values()) / s.requests for w in result.windows]
                self.echo(
                    f"{config.name}: "
                    + ", ".join(f"{t / 1e6:.3f} M instructions/request" for t in totals)
                    + f" ({result.wall_s:.0f} s)"
                )
                if on_progress:
                    on_progress(run)
            run.complete = True
        finally:
            self.stack.down()
            run.wall_s = round(time.monotonic() - started, 1)
            run.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        return run
