"""What-if: the fix's gain projected from the critical path of hand-built traces."""

from __future__ import annotations

import pytest

from tests.unit.workshop.traces import sequential, slow_query
from tracelab.workshop.catalogue import DROP, KEEP_ONE, NONE, OWN
from tracelab.workshop.whatif import WhatIf, project, removed_ns, summary


def _span(trace, name):
    return next(s for s in trace if s.name == name)


def test_dropping_the_slow_query_takes_its_time_off_the_path():
    trace = slow_query(scan_ms=380)
    sql = _span(trace, "SELECT")
    projection = project(trace, [sql.span_id], DROP)
    assert projection.latency_ms == pytest.approx(400)
    assert projection.gain_ms == pytest.approx(382)  # the SQL span, 8..390 ms


def test_dropping_a_span_takes_what_it_called_too_but_own_only_its_own_time():
    trace = slow_query(scan_ms=380)
    server = _span(trace, "GET /users/<user_id>/activity")
    assert removed_ns(trace, [server.span_id], DROP) / 1e6 == pytest.approx(388)
    assert removed_ns(trace, [server.span_id], OWN) / 1e6 == pytest.approx(6)


def test_keeping_one_of_sequential_calls_leaves_the_longest():
    trace = sequential(calls=3, each_ms=100)
    calls = [s.span_id for s in trace if s.kind == "client"]
    assert project(trace, calls, KEEP_ONE).projected_ms == pytest.approx(100)
    assert project(trace, calls, NONE).gain_ms == 0


def test_projection_and_measurement_compare_by_percentile():
    traces = [slow_query(scan_ms=ms) for ms in (300, 350, 400)]
    projections = tuple(project(t, [_span(t, "SELECT").span_id], DROP) for t in traces)
    doc = WhatIf("slow-query", DROP, projections, (20.0, 22.0, 24.0)).to_dict()
    assert doc["on"]["p50_ms"] == pytest.approx(370)
    assert doc["projected"]["p50_ms"] == pytest.approx(18)
    assert doc["projected_gain"]["p50_ms"] == pytest.approx(352)
    assert doc["measured_gain"]["p50_ms"] == pytest.approx(348)
    assert doc["projection_error"]["p50_ms"] == pytest.approx(4)
    assert "measured after the fix" in summary(doc)
