"""A small real bench-exact run: off, 100% and off again, a few requests under callgrind.

The counts must repeat: the two windows of one start of the services, and
tracing off in two starts of the services (which is what two runs of
``make bench-exact`` compare); and 100% sampling must cost more than off.
Then the report is written from the run.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from tracelab.bench.exact import analysis, configs
from tracelab.bench.exact.cli import write_outputs
from tracelab.bench.exact.runner import ExactRunner, ExactSettings
from tracelab.bench.metrics import SERVICES

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 10
# The same window in two starts of the services repeats within this (0.05-0.2%
# measured). Tried: without PYTHONHASHSEED, or with the batch processor's 5 s
# timer back, this 10-request run still passed, so it guards the run's
# mechanics (callgrind control, flush, dumps), not each knob. The second
# window of a start runs warmer code paths than the first: up to ~0.6% apart.
ACROSS_STARTS_PERCENT = 0.5
WITHIN_START_PERCENT = 2.0

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed"),
]


@pytest.fixture(scope="module")
def exact(tmp_path_factory):
    base = tmp_path_factory.mktemp("bench-exact-smoke")
    off, full = configs.BY_NAME["off"], configs.BY_NAME["ratio-100pct"]
    settings = ExactSettings(
        root=ROOT,
        out_dir=base / "results",
        run_dir=ROOT / ".run" / "bench-exact-smoke",  # reachable by PostgreSQL's user
        configs=[off, full, dataclasses.replace(off, name="off-again")],
        requests=REQUESTS,
        warmup=4,
        windows=2,
        accounts=2,
        label="smoke",
    )
    run = ExactRunner(settings).run()
    document = write_outputs(run, base / "out")
    return run, document, base / "out"


def _totals(document, name):
    config = next(c for c in document["configs"] if c["name"] == name)
    return [w[analysis.TOTAL] for w in config["instructions_per_request"]]


def test_every_service_counted_and_every_request_answered(exact):
    run, _, _ = exact
    assert run.complete
    for result in run.results:
        assert result.unexpected_statuses == 0
        assert len(result.windows) == 2
        for window in result.windows:
            assert set(window) == set(SERVICES)
            assert all(count > 0 for count in window.values())


def test_counts_repeat_within_a_start_and_across_starts(exact):
    _, document, _ = exact
    for name in ("off", "ratio-100pct", "off-again"):
        first, second = _totals(document, name)
        assert abs(second - first) / first * 100 < WITHIN_START_PERCENT, (name, first, second)
    for off, again in zip(_totals(document, "off"), _totals(document, "off-again"), strict=True):
        assert abs(again - off) / off * 100 < ACROSS_STARTS_PERCENT, (off, again)


def test_full_sampling_costs_more_than_off_and_the_report_is_written(exact):
    _, document, out = exact
    assert min(w[analysis.TOTAL] for w in document["ratios"]["ratio-100pct"]) > 1.02
    assert (out / "exact.json").is_file() and (out / "exact.png").is_file()
    assert "Ratios against tracing off" in (out / "report.md").read_text()
