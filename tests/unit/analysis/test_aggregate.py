"""The critical path over many traces, and two such profiles compared."""

from __future__ import annotations

import pytest

from tests.unit.shapes.builders import build, node
from tracelab.analysis.aggregate import compare_profiles, contributions, percentile, profile


def dashboard(sql_ms: float):
    return build(
        node(
            "frontend",
            "GET /api/dashboard",
            "server",
            0,
            10 + sql_ms,
            children=[
                node("db", "SELECT", "client", 5, 5 + sql_ms, attrs={"db.system": "postgresql"}),
            ],
        )
    )


def test_percentiles_interpolate_like_numpy():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert percentile([], 50) == 0.0 and percentile([7], 99) == 7.0
    with pytest.raises(ValueError):
        percentile([1, 2], 100)


def test_contributions_tile_each_trace():
    parts = contributions(dashboard(20))
    assert parts == {("frontend", "GET /api/dashboard"): 10_000_000, ("db", "SELECT"): 20_000_000}


def test_profile_and_the_difference_of_two_windows():
    off = profile([dashboard(2) for _ in range(50)])
    on = profile([dashboard(300) for _ in range(49)] + [dashboard(2)])
    select = on.operation("db", "SELECT")
    assert select.p50_ms == 300 and select.on_path_in == 50
    assert on.operations[0].name == "SELECT"  # the biggest contribution first
    assert on.latency_p50_ms == 310 and off.latency_p50_ms == 12
    rows = compare_profiles(off, on)
    assert (rows[0]["service"], rows[0]["name"]) == ("db", "SELECT")
    assert rows[0]["delta_p50_ms"] == 298.0
    frontend = next(r for r in rows if r["name"] == "GET /api/dashboard")
    assert frontend["delta_p50_ms"] == 0.0
    assert profile([]).to_dict()["traces"] == 0
