"""A very short benchmark against a real local stack: the report is complete and sane.

Two configurations x two rounds x a few seconds, on a private stack (its own
run directory and free ports, so it runs beside any other stack). No timing
is asserted: only that every configuration was measured with well-formed
values, that the tracing configuration really changed what was exported,
and that the outputs exist. Then Locust runs briefly against the same stack.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tracelab.bench.cli import write_outputs
from tracelab.bench.runner import BenchRunner, BenchSettings

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ["off", "ratio-100pct"]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    base = tmp_path_factory.mktemp("bench-smoke")
    settings = BenchSettings(
        root=ROOT,
        out_dir=base / "results",
        # PostgreSQL runs as user postgres when we are root: it needs a run
        # directory whose parents it can reach (pytest's tmp dirs are private).
        run_dir=ROOT / ".run" / "bench-smoke",
        configs=CONFIGS,
        rounds=2,
        duration_s=6.0,  # longer than the SDK's 5 s export delay: spans land in the window
        warmup_s=2.0,
        probe_s=2.0,
        probe_concurrency=(4,),
        accounts=4,
        keep_stack=True,
        label="smoke",
    )
    runner = BenchRunner(settings)
    try:
        run = runner.run()
        document = write_outputs(run, base / "out", final=True)
        yield base / "out", document, runner.stack.info()
    finally:
        runner.stack.down()


def test_every_configuration_and_round_is_reported(smoke):
    out, document, _ = smoke
    assert document["complete"] is True
    assert [c["name"] for c in document["configs"]] == CONFIGS
    assert sorted((r["config"], r["round"]) for r in document["rounds"]) == sorted(
        (c, i) for c in CONFIGS for i in (1, 2)
    )
    assert set(document["summary"]) == set(CONFIGS)
    assert set(document["overheads"]) == {"ratio-100pct"}
    assert document["probe"]["capacity_rps"] > 0
    assert document["target_rate"] == pytest.approx(document["probe"]["capacity_rps"] / 2, abs=0.1)
    assert json.loads((out / "bench.json").read_text()) == document
    # Locust drove the load (the default), and it says how.
    assert document["settings"]["driver"] == "locust"
    assert document["settings"]["locustfile"] == str(ROOT / "loadtest" / "locustfile.py")


def test_round_values_are_well_formed(smoke):
    _, document, _ = smoke
    for r in document["rounds"]:
        assert r["requests"] > 0 and r["answered"] > 0
        assert r["throughput_rps"] > 0
        assert r["planned_in_window"] > 0 and r["achieved_rate_rps"] > 0
        lat = r["latency"]
        assert 0 < lat["p50_ms"] <= lat["p95_ms"] <= lat["p99_ms"] <= lat["max_ms"]
        assert lat["mean_ms"] > 0 and math.isfinite(lat["mean_ms"])
        assert r["service_cpu_s_per_1k"] > 0
        assert set(r["cpu_s"]) >= {"frontend", "gateway", "auth", "user", "db"}
        assert all(r["rss_mib"][s] > 10 for s in ("frontend", "gateway", "auth", "user", "db"))
        assert 0 <= r["loadgen_core_fraction"] < 1.5
        assert isinstance(r["valid"], bool)


def test_the_tracing_configuration_changes_what_is_exported(smoke):
    _, document, _ = smoke
    by_config = {c: [r for r in document["rounds"] if r["config"] == c] for c in CONFIGS}
    assert all(r["spans_per_request"] == 0 for r in by_config["off"])
    # Every journey makes several spans; with 100% sampling all of them arrive.
    assert all(r["spans_per_request"] > 3 for r in by_config["ratio-100pct"])
    assert all(r["spans_dropped"] == 0 for r in document["rounds"])


def test_markdown_report_and_plots_exist(smoke):
    out, _, _ = smoke
    md = (out / "report.md").read_text()
    assert "intended send time" in md  # the coordinated-omission correction is stated
    for name in CONFIGS:
        assert name in md
    for png in ("overhead.png", "latency.png", "rounds.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert (out / "raw.npz").stat().st_size > 0


def test_locust_runs_against_the_real_stack(smoke, tmp_path):
    _, _, info = smoke
    result = subprocess.run(
        [
            sys.executable, "-m", "locust", "-f", str(ROOT / "loadtest" / "locustfile.py"),
            "--headless", "--users", "3", "--spawn-rate", "3", "--run-time", "4s",
            "--host", info.frontend_url, "--csv", str(tmp_path / "smoke"), "--only-summary",
            "--stop-timeout", "3",
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    with (tmp_path / "smoke_stats.csv").open() as handle:
        total = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    assert int(total["Request Count"]) > 0
    assert int(total["Failure Count"]) == 0
