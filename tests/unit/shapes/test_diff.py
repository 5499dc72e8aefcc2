"""The golden-shape diff document the console draws: nodes, checks and spans marked."""

from __future__ import annotations

from pathlib import Path

from tests.unit.shapes.test_golden_shapes import dashboard_trace, login_trace
from tracelab.shapes.diff import golden_diff
from tracelab.shapes.matcher import match
from tracelab.shapes.shape import load_shape

SHAPES = Path(__file__).resolve().parents[2] / "shapes"


def test_a_matching_trace_has_every_node_ok_and_every_span_matched():
    trace = dashboard_trace()
    diff = golden_diff(match(load_shape(SHAPES / "dashboard.yaml"), trace))
    assert diff["ok"] and diff["mismatches"] == []
    assert {node["status"] for node in diff["nodes"]} == {"ok"}
    assert diff["nodes"][0]["depth"] == 0 and "GET /api/dashboard" in diff["nodes"][0]["label"]
    assert {entry["status"] for entry in diff["spans"].values()} == {"matched"}
    assert set(diff["spans"]) == {span.span_id for span in trace}
    [overlap] = diff["checks"]
    assert overlap["ok"] and len(overlap["spans"]) == 2


def test_sequential_calls_fail_the_concurrency_check_and_mark_both_calls():
    trace = dashboard_trace(activity_start=61)  # after the profile call (20-60 ms) ended
    diff = golden_diff(match(load_shape(SHAPES / "dashboard.yaml"), trace))
    assert not diff["ok"]
    [fanout] = [node for node in diff["nodes"] if node["id"] == "fanout"]
    assert fanout["status"] == "differs"
    assert fanout["reasons"][0].startswith("concurrent children: expected children overlapping")
    calls = [node for node in diff["nodes"] if node["id"] in ("profile_call", "activity_call")]
    assert [node["status"] for node in calls] == ["ok", "ok"]  # their structure fits
    call_spans = [span for node in calls for span in node["spans"]]
    assert {diff["spans"][span]["status"] for span in call_spans} == {"differs"}
    assert sum(node["status"] == "not reached" for node in diff["nodes"]) == 0


def test_a_wrong_status_is_a_differing_node_with_its_reason_and_nodes_below_not_reached():
    trace = login_trace(auth_status="error")
    diff = golden_diff(match(load_shape(SHAPES / "login.yaml"), trace))
    assert not diff["ok"]
    differing = [node for node in diff["nodes"] if node["status"] == "differs"]
    assert differing and any("status" in reason for n in differing for reason in n["reasons"])
    assert any(entry["status"] == "differs" for entry in diff["spans"].values())
    assert "MISMATCH" in diff["report"]
