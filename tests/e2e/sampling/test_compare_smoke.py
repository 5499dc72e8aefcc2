"""A quick smoke of ``tracelab sampling compare`` against the real local stack.

Small load, every strategy; asserts the report is well formed and internally
consistent, never on timing. The stack is restarted per strategy and left in
its default mode.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tracelab.sampling.cli import sampling

pytestmark = pytest.mark.e2e


def test_compare_writes_a_consistent_report(stack, tmp_path):
    result = CliRunner().invoke(
        sampling,
        ["compare", "--requests", "40", "--concurrency", "4", "--out", str(tmp_path)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "sampling.json").read_text())
    assert [s["strategy"] for s in report["strategies"]] == ["head", "rate-limit", "tail"]
    for s in report["strategies"]:
        assert s["requests"] == 40
        assert 0 <= s["kept"] <= s["requests"]
        assert s["errors_kept"] <= s["errors_sent"] and s["slow_kept"] <= s["slow_sent"]
        assert s["spans_exported"] >= 0 and s["red_calls"] >= 0
    tail = report["strategies"][2]
    # Tail sampling decides on whole traces: every error trace is kept.
    assert tail["errors_kept"] == tail["errors_sent"]
    assert (tmp_path / "sampling.md").read_text().startswith("# Sampling strategies")
    assert stack.urls["frontend"]  # the session's stack is back in default mode
