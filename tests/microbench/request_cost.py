"""Instructions per request of one service, counted by callgrind, per tracing configuration.

``make bench-service`` (``python tests/microbench/request_cost.py
[--services auth,user,...] [--configs off,unsampled,...] [--requests N]``,
``BENCH_SERVICE_ARGS`` in make) builds each service's real
app (its ``create_app``) with the lab's real telemetry set-up
(``logs.configure_logging`` + ``telemetry.init``: instrumentation libraries,
batch span and log processors, the OTLP/HTTP exporters to a sink process),
sends N fixed requests through it and counts the instructions the whole
process (every thread) executes for them under ``valgrind --tool=callgrind``.
Downstream services are a canned stub in another process
(``downstream_stub.py``), the OTLP receiver is ``otlp_sink.py``: neither is
counted. The aiohttp services run their real server on a socket, driven by a
raw HTTP/1.1 keep-alive client in the same process (its instructions are in
every configuration alike); the Flask services run under Flask's test client.

Only the measured window is counted (``callgrind_ctl.c``, loaded with
ctypes, starts instrumentation after a warm-up and dumps at the end); the
batch processors are flushed inside the window, so every span and log
record of the N requests is encoded and sent in it. Time-driven work (the
loss counters' metric export and log line) is moved out of the window by
long intervals. Trace ids come from a seeded ``random``, so the same
requests are sampled in every run: a repeat gives the same count to about
0.01%.

The report gives instructions per request and the overhead against ``off``;
``--variant NAME:KEY=VALUE,...`` adds a configuration (ablation: e.g.
``ACCESS_LOG=false``), ``--logs`` exports log records over OTLP as Compose
and Kubernetes do (the local stack, and so ``tracelab bench``, does not),
``--annotate DIR`` keeps
the callgrind files for ``callgrind_annotate --inclusive=yes``.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS = ROOT / "results" / "request_cost.json"

_RATIO = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio"}
# As `tracelab bench` runs them; the local stack exports no log records
# (OTEL_LOGS_EXPORTER=none, set by the stack runner), Compose and Kubernetes do:
# `--logs` measures that too.
CONFIGS: dict[str, dict[str, str]] = {
    "off": {"OTEL_SDK_DISABLED": "true"},
    "unsampled": {"OTEL_TRACES_SAMPLER": "parentbased_always_off"},
    "ratio-1pct": {**_RATIO, "OTEL_TRACES_SAMPLER_ARG": "0.01"},
    "ratio-100pct": {**_RATIO, "OTEL_TRACES_SAMPLER_ARG": "1.0"},
}
SERVICES = ("auth", "user", "gateway", "frontend")
# Outside the window: the loss counters' periodic metric export and log line.
QUIET_PERIODIC = {
    "OTEL_METRIC_EXPORT_INTERVAL": "3600000",
    "TRACELAB_SPAN_LOSS_LOG_INTERVAL_S": "3600",
    # Batches leave when full (512) or at the window's flush, never on a timer.
    "OTEL_BSP_SCHEDULE_DELAY": "3600000",
    "OTEL_BLRP_SCHEDULE_DELAY": "3600000",
}
TOKEN_SECRET = "request-cost-benchmark-secret-0123456789"


def _callgrind_lib(build_dir: Path) -> ctypes.CDLL:
    library = build_dir / "callgrind_ctl.so"
    if not library.exists():
        subprocess.run(
            ["cc", "-O1", "-shared", "-fPIC", "-o", str(library), str(HERE / "callgrind_ctl.c")],
            check=True,
        )
    return ctypes.CDLL(str(library))


# What each service is sent: (method, path, headers, body).
Request = tuple[str, str, dict[str, str], bytes]


def _requests(service: str) -> Request:
    if service == "auth":
        from services.auth import tokens

        token = tokens.issue_token(7, TOKEN_SECRET, 3600)
        return ("POST", "/verify", {"Authorization": f"Bearer {token}"}, b"")
    if service == "user":
        return ("GET", "/users/7", {}, b"")
    return ("GET", "/api/users/7", {"Authorization": "Bearer stub-token"}, b"")


def _app(service: str) -> Any:
    if service == "auth":
        from services.auth.app import create_app
        from services.auth.settings import Settings
    elif service == "user":
        from services.user.app import create_app
        from services.user.settings import Settings
    elif service == "gateway":
        from services.gateway.app import create_app
        from services.gateway.settings import Settings
    else:
        from services.frontend.app import create_app
        from services.frontend.settings import Settings
    settings = Settings.from_env()
    from services.common import telemetry
    from services.common.logs import configure_logging

    configure_logging(settings.service.name, settings.service.log_level)
    state = telemetry.init(
        settings.service.name,
        service_version=settings.service.version,
        environment=settings.service.environment,
    )
    return create_app(settings), state


def _flush(state: Any) -> None:
    if state.provider is not None:
        state.provider.force_flush()
    if state.logs is not None:
        state.logs.force_flush()


def _run_flask(app: Any, request: Request, warmup: int, count: int, window: Any) -> None:
    method, path, headers, body = request
    client = app.test_client()
    for _ in range(warmup):
        client.open(path, method=method, headers=headers, data=body).close()
    with window():
        for _ in range(count):
            response = client.open(path, method=method, headers=headers, data=body)
            assert response.status_code == 200, response.get_data()
            response.close()


async def _run_aiohttp(app: Any, request: Request, warmup: int, count: int, window: Any) -> None:
    from aiohttp import web

    method, path, headers, body = request
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def one() -> None:
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
        await reader.readexactly(length)

    for _ in range(warmup):
        await one()
    with window():
        for _ in range(count):
            await one()
    writer.close()
    await runner.cleanup()


def measure(service: str, warmup: int, count: int, build_dir: Path) -> None:
    """The measured process: warm up, then count ``count`` requests (callgrind window)."""
    # The SDK's trace ids come from `random`: the same requests are sampled every run.
    random.seed(20261201)
    lib = _callgrind_lib(build_dir)
    app, state = _app(service)
    request = _requests(service)

    @contextmanager
    def window() -> Iterator[None]:
        lib.tracelab_cg_start()
        yield
        _flush(state)
        lib.tracelab_cg_dump()

    if service in ("auth", "frontend"):
        _run_flask(app, request, warmup, count, window)
    else:
        asyncio.run(_run_aiohttp(app, request, warmup, count, window))
    from services.common import telemetry

    telemetry.shutdown()


@contextmanager
def _helper(script: str) -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, str(HERE / script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), f"{script} did not start: {line!r}"
        yield int(line.split()[1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _environment(config: dict[str, str], sink: int, stub: int, logs: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACELAB_"))}
    stub_url = f"http://127.0.0.1:{stub}"
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PYTHONHASHSEED": "0",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink}",
            "AUTH_TOKEN_SECRET": TOKEN_SECRET,
            "DB_SERVICE_URL": stub_url,
            "AUTH_URL": stub_url,
            "USER_URL": stub_url,
            "GATEWAY_URL": stub_url,
            "OTEL_LOGS_EXPORTER": "otlp" if logs else "none",
            **QUIET_PERIODIC,
            **config,
        }
    )
    return env


def _count(out_file: Path) -> int:
    for line in out_file.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise ValueError(f"no totals in {out_file}")


def run_one(
    service: str,
    config: dict[str, str],
    args: argparse.Namespace,
    ports: tuple[int, int],
    out: Path,
) -> int:
    """Instructions of ``args.requests`` requests of ``service`` under ``config``."""
    out.mkdir(parents=True, exist_ok=True)
    prefix = out / "callgrind.out"
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={prefix}",
        sys.executable,
        str(Path(__file__).resolve()),
        "measure",
        service,
        "--requests",
        str(args.requests),
        "--warmup",
        str(args.warmup),
        "--build-dir",
        str(args.build_dir),
    ]
    with open(out / "stderr.log", "w") as stderr:
        env = _environment(config, *ports, args.logs)
        subprocess.run(command, env=env, stderr=stderr, check=True, cwd=ROOT)
    dumps = sorted(out.glob("callgrind.out.*"))
    measured = [d for d in dumps if "measured" in d.read_text(errors="replace")[:4000]]
    return _count(measured[0] if measured else dumps[0])


def _variants(specs: list[str]) -> dict[str, dict[str, str]]:
    variants: dict[str, dict[str, str]] = {}
    for spec in specs:
        name, _, pairs = spec.partition(":")
        base_name, _, rest = pairs.partition("+") if "+" in pairs.split(",")[0] else ("", "", pairs)
        env = dict(CONFIGS[base_name]) if base_name else {}
        for pair in filter(None, rest.split(",")):
            key, _, value = pair.partition("=")
            env[key] = value
        variants[name] = env
    return variants


def main(argv: list[str] | None = None) -> int:
    """Measure (or, with ``measure``, be the measured process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="report", choices=("report", "measure"))
    parser.add_argument("service", nargs="?")
    parser.add_argument("--services", default=",".join(SERVICES[:3]))
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME:[BASE+]KEY=VALUE,... e.g. 'no-access-log:ratio-100pct+ACCESS_LOG=false'",
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--build-dir", type=Path)
    parser.add_argument(
        "--logs", action="store_true", help="export log records over OTLP (Compose, Kubernetes)"
    )
    parser.add_argument("--annotate", type=Path, help="keep the callgrind files here")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"the JSON report [{RESULTS}]")
    args = parser.parse_args(argv)
    if args.mode == "measure":
        measure(args.service, args.warmup, args.requests, args.build_dir)
        return 0
    work = Path(tempfile.mkdtemp(prefix="request-cost-"))
    args.build_dir = args.build_dir or work
    configs = {name: CONFIGS[name] for name in filter(None, args.configs.split(","))}
    configs.update(_variants(args.variant))
    results: dict[str, dict[str, float]] = {}
    try:
        with _helper("otlp_sink.py") as sink, _helper("downstream_stub.py") as stub:
            for service in args.services.split(","):
                for name, env in configs.items():
                    out = (args.annotate or work) / f"{service}-{name}"
                    shutil.rmtree(out, ignore_errors=True)
                    per_request = run_one(service, env, args, (sink, stub), out) / args.requests
                    results.setdefault(service, {})[name] = per_request
                    base = results[service].get("off")
                    ratio = f"{100 * (per_request / base - 1):+7.2f}%" if base else ""
                    line = f"{service:9} {name:24} {per_request:12,.0f} instr/request {ratio}"
                    print(line, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"requests": args.requests, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
