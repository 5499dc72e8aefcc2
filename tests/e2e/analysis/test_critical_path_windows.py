"""The critical path over many traces, slow-query off against on, on the real stack.

Forty dashboards with every scenario off, then forty with slow-query on; the
two windows' critical-path profiles are compared. The scan adds ``scan_ms``
to the activity query, which is on the critical path of every dashboard:
the comparison must put it first, on db's SELECT, about that large. The
table goes to results/analysis/critical-path-slow-query.{json,md}.
"""

from __future__ import annotations

import json
import time

import pytest

from services.common.faults import SCENARIOS
from tracelab.analysis.service import critical_path_report
from tracelab.scenarios.admin import ScenarioAdmin
from tracelab.scenarios.targets import Targets
from tracelab.scenarios.traffic import Traffic
from tracelab.shapes.backends import JaegerClient
from tracelab.stack.paths import repo_root

pytestmark = pytest.mark.e2e

DASHBOARDS = 40


def _window(traffic: Traffic) -> tuple[float, float]:
    start = time.time()
    answers = traffic.burst("dashboard", DASHBOARDS, 4)
    assert all(a.status == 200 for a in answers)
    return start - 0.5, time.time() + 0.5


def test_slow_query_adds_its_scan_to_the_critical_path_on_db_select(stack):
    targets = Targets.from_urls(stack.urls, log_dir=stack.log_dir, token=stack.admin_token)
    admin = ScenarioAdmin(targets.services, targets.token)
    traffic = Traffic(targets.frontend)
    scan_ms = SCENARIOS["slow-query"].params()["scan_ms"]
    try:
        admin.all_off()
        off = _window(traffic)
        time.sleep(1.0)  # the windows do not touch
        admin.switch("slow-query", True)
        try:
            on = _window(traffic)
        finally:
            admin.switch("slow-query", False)
    finally:
        admin.close()
        traffic.close()
    time.sleep(7)  # every span exported
    with JaegerClient(stack.urls["jaeger"]) as jaeger:
        report = critical_path_report(jaeger, "dashboard", DASHBOARDS, on, versus=off)
    assert report["profile"]["traces"] == DASHBOARDS
    assert report["versus"]["profile"]["traces"] == DASHBOARDS
    top = report["changes"][0]
    assert (top["service"], top["name"]) == ("db", "SELECT"), report["changes"][:3]
    assert scan_ms * 0.8 <= top["delta_p50_ms"] <= scan_ms * 1.5, top
    assert report["headline"].startswith("adds ") and "on db SELECT" in report["headline"]
    # No other operation moved by more than a tenth of that.
    assert all(abs(c["delta_p50_ms"]) < scan_ms / 10 for c in report["changes"][1:]), report[
        "changes"
    ][:4]
    _record(report)


def _record(report: dict) -> None:
    out = repo_root() / "results" / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    (out / "critical-path-slow-query.json").write_text(json.dumps(report, indent=2) + "\n")
    before = {(o["service"], o["name"]): o for o in report["versus"]["profile"]["operations"]}
    lines = [
        f"slow-query on vs off, {DASHBOARDS} dashboards each: {report['headline']}",
        "",
        "| service | operation | p50 off | p50 on | p99 off | p99 on | share on |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for op in report["profile"]["operations"]:
        was = before.get((op["service"], op["name"]), {})
        lines.append(
            f"| {op['service']} | {op['name']} | {was.get('p50_ms', 0):.1f} | {op['p50_ms']:.1f} "
            f"| {was.get('p99_ms', 0):.1f} | {op['p99_ms']:.1f} | {op['share']:.1%} |"
        )
    (out / "critical-path-slow-query.md").write_text("\n".join(lines) + "\n")
