"""The benchmark's load from a locustfile: Locust in library mode, paced to a fixed rate.

``make bench`` drives its load with the project's ``loadtest/locustfile.py``
(or a user's own, ``tracelab bench --locustfile PATH``): this module loads
the file's User classes, runs them in a :class:`locust.env.Environment` with
a local runner, and replaces their think time by a pacer. It runs as a
subprocess (``python -m tracelab.bench.locustdrive SPEC OUT``): Locust
patches the standard library with gevent, and the process's CPU is then the
load generator's own, measured apart from the stack's. It talks to the
orchestrator with the open-loop generator's marker lines and result file
(:mod:`tracelab.bench.loadgen`), so both drivers feed the same statistics.

How the figures stay truthful. A Locust user is a closed loop: it sends a
task (a journey), waits for the answers, then waits its think time. Left as
it is, a slow stack makes the users send *less*; the requests that would
have met the slow moments are never sent and never measured (coordinated
omission), and both the rate and the percentiles flatter the system. So:

- Each user runs on a fixed schedule: task ``k`` of user ``u`` is intended
  to start at ``t0 + phase_u + k * period``, with ``period = users / rate``
  (seeded random phases, so the sum of the users' sends is close to the
  Poisson arrivals of independent people; evenly spread with
  ``poisson=False``). The think time is whatever is left until the next
  intended start; a user that is late sends at once and catches up.
- There are enough users that pacing holds: ``users = rate * pace_period_s``
  (1 s by default), so a user is late only when its previous journey took
  longer than a whole second, 20-100 times the stack's p99 here. Whether the
  rate held is measured, not assumed: every result counts the tasks planned
  in the measured window and those that started in it, the report prints the
  achieved rate beside the target, and a round that started less than 95% of
  its plan is invalid.
- Latency is corrected for coordinated omission: every request is timed
  from its *intended* send time (the task's intended start plus the
  request's place in the task), so a late start counts against the system.
  The uncorrected time from the actual send is kept as service time, and the
  lateness as send lag (a round whose p99 lag passes 20 ms is invalid).

Why this and not only the open-loop generator: Locust is what the lab's
users benchmark with, and ``--locustfile`` lets them measure their own
workload; with pacing and the correction its figures are the open-loop
ones' (a fixed offered rate, every request timed from when it was due).
The open-loop generator (``--driver open-loop``: sends on a precomputed
schedule whatever the answers do, no users at all) stays as the reference
for latency percentiles.
"""

from __future__ import annotations

import math
import random
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gevent
import locust
from gevent.event import Event
from locust.env import Environment
from locust.user import User
from locust.util.load_locustfile import load_locustfile

from tracelab.bench.loadgen import (
    MARK_END,
    MARK_START,
    STATUS_CONNECTION_ERROR,
    LoadResult,
    LoadSpec,
    emit_marker,
    run_driver,
    trace_id_of,
)
from tracelab.journeys import BY_NAME

# A user with no slot left in the window sleeps this long (until the runner stops it).
IDLE_S = 3600.0
SPAWN_TIMEOUT_S = 120.0


def user_count(spec: LoadSpec) -> int:
    """How many users: ``spec.users``, else enough that each sends once per pace period."""
    if spec.users:
        return spec.users
    if spec.mode == "closed":
        return spec.concurrency
    return max(1, math.ceil(spec.rate * spec.pace_period_s))


def journey_key(request_name: str) -> str:
    """The journey a request belongs to: ``profile`` for ``profile: GET ...``, else its name."""
    head = request_name.split(":", 1)[0]
    return head if head in BY_NAME else request_name


@dataclass
class _Request:
    name: str
    intended_ns: int  # intended send time (monotonic ns)
    service_ns: int
    lag_ns: int
    status: int
    failed: bool
    trace_id: str


@dataclass
class Pacer:
    """The users' shared schedule: who is ready, the start, the window, what was planned."""

    users: int
    period_ns: int  # 0: closed loop (no think time, the probe)
    poisson: bool
    seed: int
    warmup_ns: int
    duration_ns: int
    ready: int = 0
    go: Event = field(default_factory=Event)
    all_ready: Event = field(default_factory=Event)
    t0_ns: int = 0
    active: int = 0
    idle: Event = field(default_factory=Event)
    planned_in_window: int = 0
    started_in_window: int = 0
    _phases: list[int] = field(default_factory=list)

    @property
    def window_start_ns(self) -> int:
        """When the measured window opens (monotonic ns)."""
        return self.t0_ns + self.warmup_ns

    @property
    def window_end_ns(self) -> int:
        """When the measured window closes (monotonic ns)."""
        return self.window_start_ns + self.duration_ns

    def start(self) -> None:
        """Every user is ready: fix the start and the phases, let them go."""
        rng = random.Random(self.seed)
        spread = [rng.random() for _ in range(self.users)] if self.poisson else None
        self._phases = [
            int((spread[i] if spread else i / self.users) * self.period_ns)
            for i in range(self.users)
        ]
        self.t0_ns = time.monotonic_ns() + 20_000_000
        self.active = self.users
        self.go.set()

    def arrive(self) -> int:
        """A user finished its start (log-in): its index; waits for the others."""
        index = self.ready
        self.ready += 1
        if self.ready >= self.users:
            self.all_ready.set()
        self.go.wait()
        return index

    def first_slot(self, index: int) -> int:
        """User ``index``'s first intended start."""
        return self.t0_ns + self._phases[index % len(self._phases)]

    def count(self, intended_ns: int, started_ns: int) -> None:
        """Count a task against the window's plan."""
        if self.window_start_ns <= intended_ns < self.window_end_ns:
            self.planned_in_window += 1
            self.started_in_window += started_ns < self.window_end_ns

    def retire(self) -> None:
        """A user's next slot is past the window: it sends no more."""
        self.active -= 1
        if self.active <= 0:
            self.idle.set()


def paced(user_class: type[User], pacer: Pacer, timeout_s: float) -> type[User]:
    """``user_class`` with its think time replaced by ``pacer``'s schedule.

    Its own ``on_start`` still runs first (the project's users log in there);
    every request's Locust context carries the task's intended and actual start.
    """

    class Paced(user_class):  # type: ignore[misc, valid-type]
        abstract = False
        # FastHttpUser's timeouts (HttpUser ignores them): no answer within the
        # benchmark's timeout is an error, as in the open-loop generator.
        network_timeout = timeout_s
        connection_timeout = timeout_s
        _index = 0
        _intended_ns: int | None = None
        _started_ns = 0
        _retired = False

        def on_start(self) -> None:
            super().on_start()
            self._index = pacer.arrive()
            self._intended_ns = pacer.first_slot(self._index)
            gevent.sleep(max(0.0, (self._intended_ns - time.monotonic_ns()) / 1e9))
            self._begin()

        def _begin(self) -> None:
            self._started_ns = time.monotonic_ns()
            assert self._intended_ns is not None
            pacer.count(self._intended_ns, self._started_ns)

        def wait_time(self) -> float:
            now = time.monotonic_ns()
            if self._intended_ns is None:  # a task ended before on_start did: no schedule yet
                return 0.0
            following = self._intended_ns + pacer.period_ns if pacer.period_ns else now
            if following >= pacer.window_end_ns:
                if not self._retired:
                    self._retired = True
                    pacer.retire()
                return IDLE_S
            self._intended_ns = following
            gevent.sleep(max(0.0, (following - now) / 1e9))
            self._begin()
            return 0.0

        def context(self) -> dict[str, Any]:
            return {
                **super().context(),
                "tracelab_intended_ns": self._intended_ns,
                "tracelab_started_ns": self._started_ns,
            }

    Paced.__name__ = Paced.__qualname__ = user_class.__name__
    return Paced


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _user_classes(path: str) -> list[type[User]]:
    classes, _shapes = load_locustfile(path)
    found = [c for c in classes.values() if not getattr(c, "abstract", False)]
    if not found:
        raise SystemExit(f"{path}: no Locust User class")
    return found


def drive(spec: LoadSpec, emit=emit_marker) -> LoadResult:
    """Run ``spec.locustfile``'s users against ``spec.base_url``; the measured window's timings."""
    random.seed(spec.seed)  # the locustfile's own choices (accounts, task picks) repeat
    users = user_count(spec)
    period_ns = 0 if spec.mode == "closed" else int(users / spec.rate * 1e9)
    pacer = Pacer(
        users=users,
        period_ns=period_ns,
        poisson=spec.poisson,
        seed=spec.seed,
        warmup_ns=int(spec.warmup_s * 1e9),
        duration_ns=int(spec.duration_s * 1e9),
    )
    classes = [paced(c, pacer, spec.timeout_s) for c in _user_classes(spec.locustfile)]
    env = Environment(user_classes=classes, host=spec.base_url, events=locust.events)
    records: list[_Request] = []

    def on_request(name, response_time, response, context, exception, **_kw) -> None:
        done = time.monotonic_ns()
        service = int(response_time * 1e6)
        intended_task = context.get("tracelab_intended_ns")
        started_task = context.get("tracelab_started_ns") or done - service
        lag = max(0, started_task - intended_task) if intended_task is not None else 0
        status = getattr(response, "status_code", 0) or STATUS_CONNECTION_ERROR
        headers = getattr(response, "headers", None) or {}
        records.append(
            _Request(
                name,
                done - service - lag,
                service,
                lag,
                status,
                exception is not None,
                trace_id_of(headers.get("traceresponse")),
            )
        )

    env.events.request.add_listener(on_request)
    runner = env.create_local_runner()
    env.events.init.fire(environment=env, runner=runner, web_ui=None)
    runner.start(users, spawn_rate=max(10.0, users / 3.0))
    if not pacer.all_ready.wait(SPAWN_TIMEOUT_S):
        raise SystemExit(f"only {pacer.ready} of {users} Locust users started")
    pacer.start()
    gevent.sleep(max(0.0, (pacer.window_start_ns - time.monotonic_ns()) / 1e9))
    cpu_start = _cpu_seconds()
    emit(MARK_START)
    gevent.sleep(max(0.0, (pacer.window_end_ns - time.monotonic_ns()) / 1e9))
    cpu = _cpu_seconds() - cpu_start
    window_s = (time.monotonic_ns() - pacer.window_start_ns) / 1e9
    emit(MARK_END)
    pacer.idle.wait(spec.timeout_s + 5)  # tasks planned in the window finish
    runner.quit()
    return summarise(spec, pacer, records, window_s, cpu, users)


def summarise(
    spec: LoadSpec,
    pacer: Pacer,
    records: Sequence[_Request],
    window_s: float,
    cpu_s: float,
    users: int,
) -> LoadResult:
    """The requests intended inside the window, in microseconds, as a :class:`LoadResult`."""
    names: list[str] = []
    result = LoadResult(
        mode=spec.mode,
        target_rate=spec.rate,
        duration_s=spec.duration_s,
        window_s=window_s,
        loadgen_cpu_s=cpu_s,
        scheduled=len(records),
        warmup_requests=0,
        journeys=names,
        driver="locust",
        users=users,
        planned_in_window=pacer.planned_in_window,
        started_in_window=pacer.started_in_window,
    )
    index: dict[str, int] = {}
    for r in sorted(records, key=lambda rec: rec.intended_ns):
        if r.intended_ns < pacer.window_start_ns:
            result.warmup_requests += 1
            continue
        if r.intended_ns >= pacer.window_end_ns:
            continue
        key = journey_key(r.name)
        if key not in index:
            index[key] = len(names)
            names.append(key)
        result.journey.append(index[key])
        result.status.append(r.status)
        result.failed.append(int(r.failed))
        service_us, lag_us = r.service_ns // 1000, r.lag_ns // 1000
        result.latency_us.append(service_us + lag_us)
        result.service_us.append(service_us)
        result.lag_us.append(lag_us)
        result.offset_us.append((r.intended_ns - pacer.window_start_ns) // 1000)
        result.trace_id.append(r.trace_id)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tracelab.bench.locustdrive SPEC.json OUT.json``."""
    return run_driver(argv, "tracelab.bench.locustdrive", drive)


if __name__ == "__main__":
    sys.exit(main())
