"""Per-span cost microbenchmark: fixtures and the µs-per-span summary.

``make bench-micro`` (and ``make bench``) run these with timing on;
``make test`` runs them with ``--benchmark-disable`` (each benchmarked
function once), so the code paths are exercised without the timing cost.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parents[1] / "results" / "microbench.json"

# test id -> µs-per-span figures and a description, filled by `per_span` below.
_SUMMARY: dict[str, dict[str, Any]] = {}


class Sink:
    """The OTLP/HTTP sink subprocess (tests/microbench/otlp_sink.py)."""

    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc = proc
        self.endpoint = f"http://127.0.0.1:{port}/v1/traces"
        self.logs_endpoint = f"http://127.0.0.1:{port}/v1/logs"
        self._stats_url = f"http://127.0.0.1:{port}/stats"

    def stats(self) -> dict[str, int]:
        """Requests, spans and log records received so far."""
        with urllib.request.urlopen(self._stats_url, timeout=5) as response:
            return json.loads(response.read())


@pytest.fixture(scope="session")
def sink() -> Iterator[Sink]:
    """A running OTLP/HTTP sink in its own process."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "otlp_sink.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), f"sink did not start: {line!r}"
        yield Sink(proc, int(line.split()[1]))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def per_span(benchmark: Any, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Record µs per span for the summary: the test sets ``spans_per_call`` and ``what``.

    The summary uses the median round (robust to a busy shared machine); a
    test may also set ``cpu_us_per_span`` (process CPU time, all threads).
    """
    info: dict[str, Any] = {"spans_per_call": 1, "what": ""}
    yield info
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: ran once, nothing timed
        return
    spans = info["spans_per_call"]
    entry = {
        "median_us_per_span": round(stats.stats.median * 1e6 / spans, 3),
        "mean_us_per_span": round(stats.stats.mean * 1e6 / spans, 3),
        "what": info["what"],
    }
    if "cpu_us_per_span" in info:
        entry["cpu_us_per_span"] = round(info["cpu_us_per_span"], 3)
    benchmark.extra_info.update(entry)
    _SUMMARY[request.node.name] = entry


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the µs-per-span table and write results/microbench.json."""
    if not _SUMMARY:
        return
    terminalreporter.section("per-span cost (median µs per span; CPU where measured)")
    width = max(len(name) for name in _SUMMARY)
    for name, entry in sorted(_SUMMARY.items()):
        cpu = entry.get("cpu_us_per_span")
        cpu_text = f"  CPU {cpu:7.2f} µs" if cpu is not None else " " * 16
        terminalreporter.write_line(
            f"{name:<{width}}  {entry['median_us_per_span']:8.2f} µs{cpu_text}  {entry['what']}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(_SUMMARY, indent=2) + "\n")
    terminalreporter.write_line(f"written to {RESULTS}")
