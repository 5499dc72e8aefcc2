"""Comparing two traces: matching by operation path, deltas, spans in one only."""

from __future__ import annotations

from tests.unit.shapes.builders import build, node
from tracelab.analysis.compare import compare, operation_paths


def dashboard(sequential: bool = False, slow_ms: float = 0.0, extra_call: bool = False):
    activity_start = 25 if sequential else 6
    children = [
        node(
            "gateway",
            "GET",
            "client",
            5,
            20,
            attrs={"url.full": "http://user/users/7"},
            children=[
                node("user", "GET /users/{id}", "server", 6, 19),
            ],
        ),
        node(
            "gateway",
            "GET",
            "client",
            activity_start,
            activity_start + 15 + slow_ms,
            attrs={"url.full": "http://user/users/7/activity?limit=10"},
            children=[
                node(
                    "user",
                    "GET /users/{id}/activity",
                    "server",
                    activity_start + 1,
                    activity_start + 14 + slow_ms,
                ),
            ],
        ),
    ]
    if extra_call:
        children.append(
            node("gateway", "POST", "client", 1, 3, attrs={"url.full": "http://auth/verify"})
        )
    end = activity_start + 20 + slow_ms
    return build(node("gateway", "gateway.dashboard_fanout", "internal", 0, end, children=children))


def test_the_fanout_calls_are_told_apart_by_their_target_not_their_order():
    keys = [path[-1] for path, _ in operation_paths(dashboard())]
    assert ("gateway", "GET", "http://user/users/{n}") in keys
    assert ("gateway", "GET", "http://user/users/{n}/activity") in keys


def test_compare_gives_latency_self_time_and_critical_path_differences():
    a, b = dashboard(), dashboard(sequential=True, slow_ms=30)
    result = compare(a, b).to_dict()
    assert result["a"]["duration_ms"] == 26.0 and result["b"]["duration_ms"] == 75.0
    assert result["delta_ms"] == 49.0 and result["critical_path_delta_ms"] == 49.0
    assert not result["only_a"] and not result["only_b"] and len(result["matched"]) == 5
    activity = next(m for m in result["matched"] if m["name"] == "GET /users/{id}/activity")
    assert (activity["a_ms"], activity["b_ms"], activity["delta_ms"]) == (13.0, 43.0, 30.0)
    assert activity["self_delta_ms"] == 30.0
    # Matched spans in A's tree order; the biggest critical-path changes listed apart.
    assert [m["depth"] for m in result["matched"]][:2] == [0, 1]
    first = result["largest_changes"][0]
    assert abs(first["critical_delta_ms"]) == max(
        abs(m["critical_delta_ms"]) for m in result["matched"]
    )


def test_spans_in_one_trace_only():
    result = compare(dashboard(), dashboard(extra_call=True)).to_dict()
    assert [s["name"] for s in result["only_b"]] == ["POST"] and result["only_a"] == []
    reverse = compare(dashboard(extra_call=True), dashboard()).to_dict()
    assert [s["name"] for s in reverse["only_a"]] == ["POST"]
