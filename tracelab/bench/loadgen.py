"""The benchmark's load generator: open-loop (fixed rate) or closed-loop (probe).

Why not Locust for the measurement: Locust users are closed loops (send,
wait for the answer, think, send again). When the system slows down, a
closed-loop user sends *less*, so the requests that would have met the slow
period are never sent and never measured ("coordinated omission"); the
reported percentiles then look better than what a fixed stream of users
would see. This generator sends on a precomputed schedule whatever the
answers do, measures every latency from the request's *scheduled* send time
(so a late send counts against the system, not silently in its favour), and
keeps the raw per-request timings in integer microseconds.

It runs as a subprocess (``python -m tracelab.bench.loadgen SPEC OUT``) so
its CPU is its own and measurable, and talks to the orchestrator through
stdout lines: ``MEASURE_START`` when the measured window opens,
``MEASURE_END`` when it closes, ``DONE`` after the result file is written.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp

from tracelab.bench.workload import (
    JOURNEYS,
    Account,
    Request,
    arrival_offsets,
    build_request,
    stepped_arrival_offsets,
)

MARK_START = "MEASURE_START"
MARK_END = "MEASURE_END"
MARK_DONE = "DONE"
# Status codes recorded for requests that got no HTTP answer.
STATUS_TIMEOUT = -1
STATUS_CONNECTION_ERROR = -2
STATUS_SKIPPED = -3  # never sent: max_in_flight requests were already outstanding
# Below gunicorn's 5 s keep-alive, so the client never reuses a connection
# the server is closing at that moment.
CLIENT_KEEPALIVE_S = 3.0


@dataclass(frozen=True)
class LoadSpec:
    """What to send: target, pacing, window and the logged-in accounts."""

    base_url: str
    accounts: list[tuple[int, str]]
    mode: str = "open"  # "open": fixed rate; "closed": `concurrency` back-to-back loops
    rate: float = 50.0
    concurrency: int = 16
    warmup_s: float = 5.0
    duration_s: float = 30.0
    seed: int = 1
    poisson: bool = True
    timeout_s: float = 10.0
    max_in_flight: int = 512
    weights: list[int] | None = None
    # Open loop only: (at_s, rate) pairs, at_s from the measured window's start;
    # ``rate`` holds before the first step (warm-up included).
    rate_steps: tuple[tuple[float, float], ...] = ()
    # "open-loop": this module; "locust": tracelab.bench.locustdrive with
    # ``locustfile``, ``users`` (0: rate x pace_period_s) paced users.
    driver: str = "open-loop"
    locustfile: str = ""
    users: int = 0
    pace_period_s: float = 1.0

    def to_json(self) -> str:
        """Serialise for the subprocess."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LoadSpec:
        """The spec written by :meth:`to_json`."""
        data = json.loads(text)
        data["accounts"] = [tuple(a) for a in data["accounts"]]
        data["rate_steps"] = tuple(tuple(step) for step in data.get("rate_steps", ()))
        return cls(**data)


@dataclass
class LoadResult:
    """Raw timings of the measured window (all times integer microseconds)."""

    mode: str
    target_rate: float
    duration_s: float
    window_s: float
    loadgen_cpu_s: float
    scheduled: int  # requests planned for warm-up and window together
    warmup_requests: int
    journey: list[int] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    latency_us: list[int] = field(default_factory=list)  # from the scheduled send time
    service_us: list[int] = field(default_factory=list)  # from the actual send time
    lag_us: list[int] = field(default_factory=list)  # actual minus scheduled send time
    journeys: list[str] = field(default_factory=lambda: [j.name for j in JOURNEYS])
    # Scheduled send time from the window's start, and the trace id of the
    # answer's ``traceresponse`` header ("" without one): the resilience
    # tests split a run into phases and look every trace up in the backend.
    offset_us: list[int] = field(default_factory=list)
    trace_id: list[str] = field(default_factory=list)
    # 1 where the driver judged the answer wrong (here: not the journey's
    # expected status; Locust: the locustfile's own verdict).
    failed: list[int] = field(default_factory=list)
    driver: str = "open-loop"
    users: int = 0  # Locust users (0 for the open-loop generator)
    # Sends planned inside the window, and those that started before it closed:
    # the achieved rate is started / window.
    planned_in_window: int = 0
    started_in_window: int = 0

    def to_json(self) -> str:
        """Compact JSON of every field."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LoadResult:
        """The result written by :meth:`to_json`."""
        return cls(**json.loads(text))


@dataclass
class _Record:
    journey: int
    scheduled_ns: int
    sent_ns: int
    done_ns: int
    status: int
    trace_id: str = ""


def trace_id_of(traceresponse: str | None) -> str:
    """The trace id of a W3C ``traceresponse`` header value, or "" without a valid one."""
    parts = (traceresponse or "").split("-")
    if len(parts) == 4 and len(parts[1]) == 32:
        return parts[1]
    return ""


@dataclass
class _Run:
    """What a run loop hands to :func:`summarise`."""

    records: list[_Record]
    scheduled: int
    window_start_ns: int
    window_s: float
    cpu_s: float


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Sender:
    """Sends one planned request and records its timings."""

    def __init__(self, session: aiohttp.ClientSession, spec: LoadSpec) -> None:
        self.session = session
        self.base_url = spec.base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=spec.timeout_s)
        self.records: list[_Record] = []

    async def send(self, request: Request, scheduled_ns: int) -> None:
        sent = time.monotonic_ns()
        trace_id = ""
        try:
            async with self.session.request(
                request.method,
                self.base_url + request.path,
                json=request.body,
                headers=request.headers,
                timeout=self.timeout,
            ) as response:
                await response.read()
                status = response.status
                trace_id = trace_id_of(response.headers.get("traceresponse"))
        except TimeoutError:
            status = STATUS_TIMEOUT
        except aiohttp.ClientError:
            status = STATUS_CONNECTION_ERROR
        done = time.monotonic_ns()
        self.records.append(_Record(request.journey, scheduled_ns, sent, done, status, trace_id))


class _Plan:
    """The seeded sequence of requests: journey by weight, account at random."""

    def __init__(self, spec: LoadSpec) -> None:
        self.accounts = [Account(number, token) for number, token in spec.accounts]
        if not self.accounts:
            raise ValueError("the load generator needs at least one logged-in account")
        self.rng = random.Random(spec.seed)
        self.weights = spec.weights or [j.weight for j in JOURNEYS]

    def next(self) -> Request:
        journey = self.rng.choices(range(len(JOURNEYS)), weights=self.weights)[0]
        return build_request(journey, self.rng.choice(self.accounts))


async def _sleep_until(deadline_ns: int) -> None:
    delay = (deadline_ns - time.monotonic_ns()) / 1e9
    if delay > 0:
        await asyncio.sleep(delay)


async def run_open(
    spec: LoadSpec, session: aiohttp.ClientSession, emit: Callable[[str], None]
) -> _Run:
    """Send on a fixed (seeded) schedule whatever the answers do."""
    sender = _Sender(session, spec)
    plan = _Plan(spec)
    total_s = spec.warmup_s + spec.duration_s
    if spec.rate_steps:
        steps = [(spec.warmup_s + at, rate) for at, rate in spec.rate_steps]
        offsets = stepped_arrival_offsets(
            spec.rate, steps, total_s, spec.seed, poisson=spec.poisson
        )
    else:
        offsets = arrival_offsets(spec.rate, total_s, spec.seed, poisson=spec.poisson)
    t0 = time.monotonic_ns() + 50_000_000
    window_start = t0 + int(spec.warmup_s * 1e9)
    window_end = window_start + int(spec.duration_s * 1e9)
    tasks: set[asyncio.Task[None]] = set()
    started = False
    cpu_start = 0.0
    for offset in offsets:
        scheduled = t0 + int(offset * 1e9)
        if not started and scheduled >= window_start:
            cpu_start, started = await _open_window(window_start, emit), True
        await _sleep_until(scheduled)
        request = plan.next()
        if len(tasks) >= spec.max_in_flight:
            sender.records.append(_Record(request.journey, scheduled, 0, 0, STATUS_SKIPPED))
            continue
        task = asyncio.create_task(sender.send(request, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if not started:
        cpu_start = await _open_window(window_start, emit)
    window, cpu = await _close_window(window_start, window_end, cpu_start, emit)
    if tasks:
        await asyncio.wait(tasks, timeout=spec.timeout_s + 1)
    return _Run(sender.records, len(offsets), window_start, window, cpu)


async def _open_window(window_start: int, emit: Callable[[str], None]) -> float:
    """Wait for the measured window to open, mark it; the generator's CPU seconds then."""
    await _sleep_until(window_start)
    cpu_start = _cpu_seconds()
    emit(MARK_START)
    return cpu_start


async def _close_window(
    window_start: int, window_end: int, cpu_start: float, emit: Callable[[str], None]
) -> tuple[float, float]:
    """Wait for the window to close, mark it; (window length s, generator CPU s in it)."""
    await _sleep_until(window_end)
    cpu = _cpu_seconds() - cpu_start
    window = (time.monotonic_ns() - window_start) / 1e9
    emit(MARK_END)
    return window, cpu


async def run_closed(
    spec: LoadSpec, session: aiohttp.ClientSession, emit: Callable[[str], None]
) -> _Run:
    """``concurrency`` loops sending back-to-back: the capacity probe."""
    sender = _Sender(session, spec)
    plan = _Plan(spec)
    t0 = time.monotonic_ns()
    window_start = t0 + int(spec.warmup_s * 1e9)
    window_end = window_start + int(spec.duration_s * 1e9)

    async def loop() -> None:
        # One clock reading for the check and the schedule: a send scheduled
        # after window_end would belong to neither warm-up nor window.
        while (now := time.monotonic_ns()) < window_end:
            await sender.send(plan.next(), now)
            if sender.records[-1].status < 0:
                await asyncio.sleep(0.01)  # no answer: do not spin on a dead server

    workers = [asyncio.create_task(loop()) for _ in range(spec.concurrency)]
    cpu_start = await _open_window(window_start, emit)
    window, cpu = await _close_window(window_start, window_end, cpu_start, emit)
    await asyncio.wait(workers, timeout=spec.timeout_s + 1)
    return _Run(sender.records, len(sender.records), window_start, window, cpu)


def summarise(spec: LoadSpec, run: _Run) -> LoadResult:
    """Keep the requests scheduled inside the measured window, in microseconds."""
    result = LoadResult(
        mode=spec.mode,
        target_rate=spec.rate,
        duration_s=spec.duration_s,
        window_s=run.window_s,
        loadgen_cpu_s=run.cpu_s,
        scheduled=run.scheduled,
        warmup_requests=0,
    )
    window_end = run.window_start_ns + int(spec.duration_s * 1e9)
    for r in sorted(run.records, key=lambda rec: rec.scheduled_ns):
        if not run.window_start_ns <= r.scheduled_ns < window_end:
            result.warmup_requests += r.scheduled_ns < run.window_start_ns
            continue
        result.planned_in_window += 1
        result.started_in_window += 0 < r.sent_ns < window_end
        result.failed.append(int(r.status != JOURNEYS[r.journey].expected_status))
        sent = r.sent_ns or r.scheduled_ns
        done = r.done_ns or sent
        result.journey.append(r.journey)
        result.status.append(r.status)
        result.latency_us.append((done - r.scheduled_ns) // 1000)
        result.service_us.append((done - sent) // 1000)
        result.lag_us.append((sent - r.scheduled_ns) // 1000)
        result.offset_us.append((r.scheduled_ns - run.window_start_ns) // 1000)
        result.trace_id.append(r.trace_id)
    return result


async def generate(spec: LoadSpec, emit: Callable[[str], None]) -> LoadResult:
    """Run ``spec`` against its target and return the measured window's timings."""
    connector = aiohttp.TCPConnector(limit=spec.max_in_flight, keepalive_timeout=CLIENT_KEEPALIVE_S)
    async with aiohttp.ClientSession(connector=connector) as session:
        if spec.mode == "open":
            run = run_open
        elif spec.mode == "closed":
            run = run_closed
        else:
            raise ValueError(f"mode must be open or closed, got {spec.mode!r}")
        outcome = await run(spec, session, emit)
    return summarise(spec, outcome)


def emit_marker(line: str) -> None:
    """Print a start/end/done marker with the monotonic time, for the parent process."""
    sys.stdout.write(f"{line} {time.monotonic_ns()}\n")
    sys.stdout.flush()


def run_driver(
    argv: Sequence[str] | None, module: str, drive: Callable[[LoadSpec], LoadResult]
) -> int:
    """A load driver's ``python -m MODULE SPEC.json OUT.json``: drive, write, say done."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        sys.stderr.write(f"usage: python -m {module} SPEC.json OUT.json\n")
        return 2
    result = drive(LoadSpec.from_json(Path(args[0]).read_text()))
    Path(args[1]).write_text(result.to_json())
    emit_marker(MARK_DONE)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tracelab.bench.loadgen SPEC.json OUT.json``."""
    return run_driver(
        argv, "tracelab.bench.loadgen", lambda spec: asyncio.run(generate(spec, emit_marker))
    )


def load_result(path: Path) -> LoadResult:
    """Read a result file written by the subprocess."""
    return LoadResult.from_json(path.read_text())


if __name__ == "__main__":
    sys.exit(main())
