"""A private local stack (own run dir, free ports) that doctor examines, broken on purpose.

One stack for the session: PostgreSQL, the collector, Jaeger and the five
services as real processes (``tracelab.stack``). Each test restarts only
the services with its own ``extra_env`` (a wrong protocol, a tiny queue, a
simple processor...), drives journeys through the frontend, and runs the
real ``tracelab doctor`` command against the stack until it reports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tracelab.scenarios.traffic import Traffic
from tracelab.shapes.backends import JaegerClient
from tracelab.stack import Stack, StackInfo
from tracelab.stack.config import INFRA, PORT_SPECS, POSTGRES_PORT_VAR, SERVICES
from tracelab.stack.paths import RUN_DIR_VAR, repo_root, tools_bin
from tracelab.stack.ports import find_free_ports

ROOT = repo_root()
STARTUP_MARGIN_S = 10.0
# Spans and span-loss counts within a second or two, so tests wait less.
FAST_TELEMETRY = {
    "OTEL_BSP_SCHEDULE_DELAY": "200",
    "OTEL_METRIC_EXPORT_INTERVAL": "1000",
    "TRACELAB_SPAN_LOSS_LOG_INTERVAL_S": "1",
}


@dataclass
class DoctorStack:
    """The running stack, and how to break it, load it and ask doctor about it."""

    stack: Stack
    info: StackInfo

    def restart(self, extra_env: Mapping[str, str] | None = None) -> float:
        """Restart the services with ``extra_env``; the moment they were ready (Unix s)."""
        self.info = self.stack.up(
            timeout=120, components=INFRA + SERVICES, extra_env=dict(extra_env or {})
        )
        return time.time()

    def journeys(self, names: tuple[str, ...] = ("dashboard",), each: int = 3) -> list[str]:
        """Run each journey ``each`` times; the trace ids of the answers."""
        traffic = Traffic(self.info.frontend_url)
        try:
            ids = []
            for name in names:
                for _ in range(each):
                    answer = traffic.journey(name)
                    assert answer.status < 500, f"{name} answered {answer.status}"
                    if answer.trace_id:
                        ids.append(answer.trace_id)
            return ids
        finally:
            traffic.close()

    def wait_for(self, trace_ids: list[str], min_spans: int = 1) -> None:
        """Until every trace is in Jaeger with at least ``min_spans`` spans."""
        client = JaegerClient(self.info.jaeger_query_url)
        for trace_id in trace_ids:
            client.wait_for_trace(trace_id, min_spans=min_spans, timeout=30)

    def doctor(
        self, since: float, *args: str, margin_s: float = STARTUP_MARGIN_S
    ) -> tuple[int, dict[str, dict[str, Any]]]:
        """``tracelab doctor --json`` since ``since`` (Unix s): exit code, checks by name.

        ``margin_s``: doctor counts its window back from when it has started
        up, seconds later on a loaded machine; a test whose services are its
        own can afford a wider one.
        """
        lookback = f"{time.time() - since + margin_s:.0f}"
        code, report = run_doctor(
            "--lookback", lookback, *args, env={RUN_DIR_VAR: str(self.stack.run_dir)}
        )
        return code, by_name(report)

    def doctor_until(
        self, since: float, done: Callable[[dict[str, dict[str, Any]]], bool], *args: str
    ) -> tuple[int, dict[str, dict[str, Any]]]:
        """Run doctor until ``done(checks by name)`` holds (30 s at most); its last answer."""
        deadline = time.monotonic() + 30
        while True:
            code, checks = self.doctor(since, *args)
            if done(checks) or time.monotonic() > deadline:
                return code, checks
            time.sleep(0.5)


def run_doctor(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """The real command, as a user runs it: ``python -m tracelab.cli doctor --json ...``."""
    result = subprocess.run(
        [sys.executable, "-m", "tracelab.cli", "doctor", "--json", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The report's checks keyed by name."""
    return {check["check"]: check for check in report["checks"]}


@pytest.fixture(scope="session")
def doctor_stack() -> Iterator[DoctorStack]:
    """The stack of this tier, on free ports in a fresh run dir; stopped at the end."""
    missing = [n for n in ("otelcol", "jaeger") if not (tools_bin(ROOT) / n).is_file()]
    assert not missing, f"{', '.join(missing)} not built: run `make tools`"
    run_dir = Path(tempfile.mkdtemp(prefix="tracelab-doctor-it-"))
    run_dir.chmod(0o755)  # the postgres user must traverse it
    variables = [spec.env_var for spec in PORT_SPECS.values()] + [POSTGRES_PORT_VAR]
    ports = dict(zip(variables, map(str, find_free_ports(len(variables))), strict=True))
    stack = Stack(ROOT, run_dir=run_dir, env={**ports, **FAST_TELEMETRY})
    try:
        info = stack.up(timeout=180, components=INFRA + SERVICES)
        yield DoctorStack(stack, info)
    finally:
        stack.down(timeout=10)
        shutil.rmtree(run_dir, ignore_errors=True)
