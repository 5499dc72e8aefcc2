"""The backend-neutral span model and its trace helpers."""

from __future__ import annotations

import pytest

from tests.unit.shapes.builders import build, node
from tracelab.shapes.model import Span, Trace


def test_children_sorted_by_start_roots_by_service_and_duration():
    trace = build(
        node(
            "gateway",
            "root",
            start=0,
            end=50,
            children=[
                node("user", "late", start=30, end=45),
                node("auth", "early", start=5, end=20),
            ],
        )
    )
    [root] = trace.roots()
    assert root.name == "root"
    assert [s.name for s in trace.children_of(root)] == ["early", "late"]
    assert {k: [s.name for s in v] for k, v in trace.by_service().items()} == {
        "gateway": ["root"],
        "auth": ["early"],
        "user": ["late"],
    }
    assert trace.duration_ms == 50.0
    assert trace.parent_of(trace.named("late")[0]) is root
    assert trace.span(root.span_id) is root
    assert trace.services == {"gateway", "auth", "user"}


def test_orphans_are_roots():
    trace = build(node("gateway", "g"), parent="deadbeefdeadbeef")
    assert [s.name for s in trace.roots()] == ["g"]
    assert trace.parent_of(trace.spans[0]) is None


def test_spans_of_different_traces_never_parent_each_other():
    first = build(node("a", "root", children=[node("a", "child")]))
    second = build(node("b", "other"), trace_id="c" * 32)
    orphan = [s for s in first.spans if s.name == "child"]
    mixed = Trace([*orphan, *second.spans])  # same span ids, other trace
    assert sorted(s.name for s in mixed.roots()) == ["child", "other"]
    assert mixed.trace_id is None


def test_empty_trace():
    trace = Trace([])
    assert (len(trace), trace.duration_ns, trace.roots(), trace.trace_id) == (0, 0, [], None)


def test_span_validates_kind_and_status_and_is_hashable():
    with pytest.raises(ValueError, match="span kind 'SERVER'"):
        Span("a" * 32, "b" * 16, None, "s", "n", kind="SERVER")
    with pytest.raises(ValueError, match="span status 'failed'"):
        Span("a" * 32, "b" * 16, None, "s", "n", status="failed")
    span = Span("a" * 32, "b" * 16, None, "s", "n", attributes={"k": [1, 2]}, start_ns=5, end_ns=3)
    assert span in {span}
    assert span.duration_ns == 0
    assert span.summary() == "s 'n' [internal] unset"
