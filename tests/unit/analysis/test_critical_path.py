"""The critical path rule, self time and per-operation statistics on traces built in memory."""

from __future__ import annotations

from itertools import pairwise

from tests.unit.shapes.builders import T0, TRACE_ID, build, node
from tracelab.analysis.arrival import arrival
from tracelab.analysis.critical_path import critical_path, critical_time
from tracelab.analysis.timing import covered_ns, self_time_ns, trace_statistics
from tracelab.shapes.model import Span, Trace

MS = 1_000_000


def _path(trace) -> list[tuple[str, float, float]]:
    names = {span.span_id: span.name for span in trace}
    origin = min(span.start_ns for span in trace)
    return [
        (names[seg.span_id], (seg.start_ns - origin) / MS, (seg.end_ns - origin) / MS)
        for seg in critical_path(trace)
    ]


def test_sequential_children_are_all_on_the_path_with_the_gaps_owned_by_the_parent():
    trace = build(
        node(
            "gw",
            "root",
            "server",
            0,
            100,
            children=[
                node("gw", "a", "client", 10, 30),
                node("gw", "b", "client", 40, 90),
            ],
        )
    )
    assert _path(trace) == [
        ("root", 0, 10),
        ("a", 10, 30),
        ("root", 30, 40),
        ("b", 40, 90),
        ("root", 90, 100),
    ]


def test_of_two_overlapping_siblings_only_the_one_finishing_last_counts():
    trace = build(
        node(
            "gw",
            "fanout",
            "internal",
            0,
            60,
            children=[
                node("gw", "profile", "client", 5, 40),
                node("gw", "activity", "client", 6, 55),
            ],
        )
    )
    # activity finishes last: profile overlaps it entirely and is hidden behind it.
    assert _path(trace) == [("fanout", 0, 6), ("activity", 6, 55), ("fanout", 55, 60)]


def test_a_sibling_ending_before_the_critical_one_starts_is_on_the_path_again():
    trace = build(
        node(
            "gw",
            "root",
            "server",
            0,
            100,
            children=[
                node("gw", "early", "client", 0, 20),
                node("gw", "overlapping", "client", 25, 60),
                node("gw", "late", "client", 50, 95),
            ],
        )
    )
    # "overlapping" ends (60) after "late" starts (50): hidden. "early" ends before: on the path.
    assert _path(trace) == [
        ("early", 0, 20),
        ("root", 20, 50),
        ("late", 50, 95),
        ("root", 95, 100),
    ]


def test_the_walk_descends_into_the_critical_child():
    trace = build(
        node(
            "fe",
            "root",
            "server",
            0,
            50,
            children=[
                node(
                    "fe",
                    "call",
                    "client",
                    5,
                    45,
                    children=[
                        node("db", "query", "client", 10, 40),
                    ],
                ),
            ],
        )
    )
    assert _path(trace) == [
        ("root", 0, 5),
        ("call", 5, 10),
        ("query", 10, 40),
        ("call", 40, 45),
        ("root", 45, 50),
    ]


def test_a_child_outliving_its_parent_counts_only_up_to_the_parents_end():
    trace = build(
        node("fe", "root", "server", 0, 30, children=[node("fe", "async", "producer", 20, 80)])
    )
    assert _path(trace) == [("root", 0, 20), ("async", 20, 30)]


def test_the_path_tiles_the_root_exactly():
    trace = build(
        node(
            "a",
            "r",
            "server",
            0,
            97,
            children=[
                node("a", "x", "client", 3, 50, children=[node("b", "y", "server", 4, 49)]),
                node("a", "z", "client", 20, 70),
                node("a", "w", "client", 71, 96),
            ],
        )
    )
    segments = critical_path(trace)
    assert sum(seg.duration_ns for seg in segments) == 97 * MS
    assert all(a.end_ns == b.start_ns for a, b in pairwise(segments))
    assert sum(critical_time(segments).values()) == 97 * MS


def test_deep_chains_do_not_recurse():
    spans = [
        Span(
            TRACE_ID,
            f"{i + 1:016x}",
            f"{i:016x}" if i else None,
            "s",
            f"span{i}",
            start_ns=T0 + i * MS,
            end_ns=T0 + (5000 - i) * MS,
        )
        for i in range(2500)
    ]
    assert len(critical_path(Trace(spans))) == 2 * 2500 - 1


def test_covered_time_counts_overlaps_once():
    assert covered_ns([(0, 10), (5, 15), (20, 30), (21, 22)]) == 25
    assert covered_ns([]) == 0


def test_self_time_and_statistics():
    trace = build(
        node(
            "gw",
            "fanout",
            "internal",
            0,
            60,
            children=[
                node("gw", "GET", "client", 5, 40),
                node("gw", "GET", "client", 6, 55),
            ],
        )
    )
    [fanout] = trace.named("fanout")
    assert self_time_ns(trace, fanout) == (60 - 50) * MS  # children cover 5..55
    rows = {(r.service, r.name): r for r in trace_statistics(trace)}
    get = rows[("gw", "GET")]
    assert (get.count, get.total_ns, get.self_ns) == (2, (35 + 49) * MS, (35 + 49) * MS)
    assert get.critical_ns == 49 * MS and rows[("gw", "fanout")].critical_ns == 11 * MS


def test_arrival_waits_for_parents_and_for_the_servers_of_http_calls():
    whole = build(
        node(
            "fe",
            "root",
            "server",
            0,
            50,
            children=[
                node(
                    "fe", "GET", "client", 5, 45, children=[node("gw", "GET /x", "server", 6, 44)]
                ),
                node("db", "SELECT", "client", 1, 2, attrs={"db.system": "postgresql"}),
            ],
        )
    )
    assert arrival(whole).complete
    unanswered = build(
        node("fe", "root", "server", 0, 50, children=[node("fe", "GET", "client", 5, 45)])
    )
    assert arrival(unanswered).to_dict() == {
        "complete": False,
        "waiting_for_parent": 0,
        "unanswered_calls": 1,
    }
    orphan = build(node("gw", "GET /x", "server", 6, 44), parent="00000000000000ff")
    assert arrival(orphan).waiting_for_parent == 1 and not arrival(orphan).complete
