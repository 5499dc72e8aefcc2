"""Instructions per span (and per log record) of encode + export, direct against stock.

``python -m tests.microbench.encoder_instructions`` (``make bench-encoder``)
runs a child process under ``valgrind --tool=callgrind``, which counts the
instructions it executes exactly, for each signal (spans, log records) and
exporter (``tracelab``: the direct encoder, ``otlp_proto_http``: the stock
one, both built by name as the services build them,
services.common.exporters). Each child makes the same seeded lab-shaped
batches, exports one to warm up (connection, caches), then exports
``--batches`` more or none; the difference of the two counts divided by the
items exported is the cost of encode + HTTP POST per item, everything
before and after cancelling out. The POSTs go to the microbenchmark's
OTLP sink (tests/microbench/otlp_sink.py) in its own process, not counted.
Callgrind counts user-space instructions only: the kernel's share of a
POST is not in the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SINK = Path(__file__).with_name("otlp_sink.py")
RESULTS = ROOT / "results" / "encoder_instructions.json"
BATCH = 512
SIGNALS = ("spans", "logs")
EXPORTERS = ("tracelab", "otlp_proto_http")
SEED = 13
# Under callgrind Python runs ~50x slower (a child takes ~1 min here); three
# batches of 512 give a difference of hundreds of millions of instructions,
# where two runs of the same child differ by a few thousand.
DEFAULT_BATCHES = 3
# What run_child sets in its environment.
CHILD_VARIABLES = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
)


def lab_spans(count: int, rng: random.Random) -> list[Any]:
    """``count`` finished spans shaped like a service's: per request a SERVER span
    with the HTTP attributes, a CLIENT call and an INTERNAL step with an event,
    under the services' resource (telemetry.build_resource)."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import DEFAULT_ON
    from opentelemetry.trace import SpanKind

    from services.common import telemetry

    memory = InMemorySpanExporter()
    provider = telemetry.build_provider(
        "user", "0.1.0", "bench", sampler=DEFAULT_ON, span_processor=SimpleSpanProcessor(memory)
    )
    tracer = provider.get_tracer("services.user", "0.1.0")
    for _ in range(-(-count // 3)):  # three spans per request
        user = rng.randrange(1, 1000)
        with tracer.start_as_current_span(
            "GET /api/users/{user_id}",
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": "GET",
                "http.route": "/api/users/{user_id}",
                "url.path": f"/api/users/{user}",
                "url.scheme": "http",
                "server.address": "127.0.0.1",
                "server.port": 8083,
                "client.address": "127.0.0.1",
                "client.port": rng.randrange(32768, 61000),
                "network.protocol.version": "1.1",
                "user_agent.original": "Python/3.11 aiohttp/3.14.5",
            },
        ) as server:
            with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT) as client:
                client.set_attributes(
                    {
                        "http.request.method": "GET",
                        "url.full": f"http://127.0.0.1:8084/users/{user}",
                        "server.address": "127.0.0.1",
                        "server.port": 8084,
                        "http.response.status_code": 200,
                    }
                )
            with tracer.start_as_current_span("user.profile") as step:
                step.set_attribute("enduser.id", str(user))
                step.add_event("cache.miss", {"cache.key": f"user:{user}", "cache.size": 128})
            server.set_attribute("http.response.status_code", 200)
    provider.shutdown()
    return list(memory.get_finished_spans())[:count]


def lab_log_records(count: int, rng: random.Random) -> list[Any]:
    """``count`` access-log records as the services export them: ``logs.log_access``
    inside a sampled SERVER span, through the services' logging handler."""
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace.sampling import DEFAULT_ON
    from opentelemetry.trace import SpanKind

    from services.common import log_export, telemetry
    from services.common.logs import ACCESS_LOGGER, log_access

    memory = InMemoryLogRecordExporter()
    resource = telemetry.build_resource("user", "0.1.0", "bench")
    provider = log_export.build_provider(resource, SimpleLogRecordProcessor(memory))
    assert provider is not None
    logger = logging.getLogger(ACCESS_LOGGER)
    saved = (logger.handlers[:], logger.propagate, logger.level)
    logger.handlers[:], logger.propagate = [log_export.build_handler(provider)], False
    logger.setLevel(logging.INFO)
    tracer = telemetry.build_provider(
        "user", sampler=DEFAULT_ON, span_processor=SpanProcessor()
    ).get_tracer("services.user")
    try:
        for _ in range(count):
            with tracer.start_as_current_span("GET /api/users/{user_id}", kind=SpanKind.SERVER):
                log_access("GET", f"/api/users/{rng.randrange(1, 1000)}", 200, rng.uniform(1, 9))
    finally:
        logger.handlers[:], logger.propagate, logger.level = saved
        provider.shutdown()
    return list(memory.get_finished_logs())[:count]


def run_child(signal: str, exporter_name: str, batches: int, made: int, endpoint: str) -> int:
    """Make ``made`` + 1 seeded batches, export the first, then ``batches`` more; items sent."""
    from services.common import exporters

    rng = random.Random(SEED)
    make = lab_spans if signal == "spans" else lab_log_records
    items = make((made + 1) * BATCH, rng)
    which = exporters.TRACES if signal == "spans" else exporters.LOGS
    path = "/v1/traces" if signal == "spans" else "/v1/logs"
    os.environ[which.variable] = exporter_name
    os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
    os.environ[f"OTEL_EXPORTER_OTLP_{which.protocol_signal}_ENDPOINT"] = endpoint + path
    exporter = exporters.build(which)
    sent = 0
    for index in range(batches + 1):
        batch = items[index * BATCH : (index + 1) * BATCH]
        result = exporter.export(batch)
        if result.name != "SUCCESS":
            raise SystemExit(f"export {index} failed: {result}")
        sent += len(batch)
    exporter.shutdown()
    return sent


def child_command(args: Sequence[str]) -> list[str]:
    """The command line of the measured process."""
    return [sys.executable, "-m", "tests.microbench.encoder_instructions", "--child", *args]


def callgrind_instructions(args: Sequence[str], out_dir: Path) -> int:
    """The instructions callgrind counted running ``python -m`` this module with ``args``."""
    out = out_dir / f"callgrind.{'-'.join(args[:3])}.out"
    env = {**os.environ, "PYTHONHASHSEED": "0", "OTEL_METRICS_EXPORTER": "none"}
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *child_command(args)]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    match = re.search(r"^(?:summary|totals):\s*(\d+)", out.read_text(), re.MULTILINE)
    if not match:
        raise RuntimeError(f"no instruction total in {out}")
    return int(match.group(1))


def start_sink() -> tuple[subprocess.Popen[str], str]:
    """The OTLP sink in its own process (not under callgrind) and its base URL."""
    proc = subprocess.Popen([sys.executable, str(SINK)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.terminate()
        raise RuntimeError(f"the sink did not start: {line!r}")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}"


def sink_counts(base: str) -> dict[str, int]:
    with urllib.request.urlopen(base + "/stats", timeout=5) as response:
        return json.loads(response.read())


def measure(batches: int, repeats: int) -> dict[str, Any]:
    """Instructions per item of encode + export for every signal and exporter."""
    from services.common import encoder_guard
    from tracelab.progress import Progress

    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    runs = [
        (signal, name, repeat, exported)
        for signal in SIGNALS
        for name in EXPORTERS
        for repeat in range(repeats)
        for exported in (0, batches)
    ]
    # About a minute a child here; the longer ones export the batches too.
    progress = Progress("bench-encoder", [60 + 10 * exported for *_, exported in runs])
    proc, base = start_sink()
    rows = []
    counts: dict[tuple[str, str, int, int], int] = {}
    try:
        # Each child once without callgrind first: every module it imports is
        # byte-compiled before the counts, so no counted child compiles one.
        for signal in SIGNALS:
            for name in EXPORTERS:
                subprocess.run(child_command([signal, name, "0", "0", base]), cwd=ROOT, check=True)
        with tempfile.TemporaryDirectory(prefix="encoder-callgrind-") as tmp:
            for run in runs:
                signal, name, repeat, exported = run
                with progress.phase(
                    f"callgrind: {signal}, {name}, warm-up + {exported} batches", every_s=30
                ):
                    before = sink_counts(base)[signal]
                    counts[run] = callgrind_instructions(
                        [signal, name, str(exported), str(batches), base], Path(tmp)
                    )
                    arrived = sink_counts(base)[signal] - before
                    assert arrived == (exported + 1) * BATCH, (run, arrived)
                if exported == batches:
                    warm_up = counts[(signal, name, repeat, 0)]
                    per_item = (counts[run] - warm_up) / (batches * BATCH)
                    rows.append(
                        {
                            "signal": signal,
                            "exporter": name,
                            "repeat": repeat,
                            "instructions_warmup_only": warm_up,
                            f"instructions_warmup_and_{batches}_batches": counts[run],
                            "instructions_per_item": round(per_item),
                        }
                    )
                    print(
                        f"{signal:5} {name:16} repeat {repeat}: {per_item:,.0f} instructions"
                        f" per {signal[:-1]}",
                        flush=True,
                    )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {
        "what": "callgrind instructions per item of encode + HTTP POST (user space), "
        f"{batches} batches of {BATCH} after one warm-up batch",
        "sdk": encoder_guard.installed_versions(),
        "python": sys.version.split()[0],
        "rows": rows,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Measure (default) or, with ``--child``, be the measured process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=DEFAULT_BATCHES)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", nargs=5, metavar=("SIGNAL", "EXPORTER", "N", "MADE", "URL"))
    args = parser.parse_args(argv)
    if args.child:
        signal, name, exported, made, url = args.child
        run_child(signal, name, int(exported), int(made), url)
        return
    report = measure(args.batches, args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
