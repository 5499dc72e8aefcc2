"""The matcher on passing and failing trees."""

from __future__ import annotations

import textwrap

import pytest

from tests.unit.shapes.builders import build, node
from tracelab.shapes.matcher import assert_matches, match
from tracelab.shapes.model import Trace
from tracelab.shapes.shape import load_shape_text


def shape(text: str):
    return load_shape_text(textwrap.dedent(text), "test.yaml", "test")


def fanout_trace(first_end=30.0, second_start=5.0, second_end=25.0) -> Trace:
    return build(
        node(
            "gateway",
            "fanout",
            start=0,
            end=40,
            children=[
                node("gateway", "GET", "client", 1, first_end, attrs={"url.full": "/users/1"}),
                node(
                    "gateway",
                    "GET",
                    "client",
                    second_start,
                    second_end,
                    attrs={"url.full": "/users/1/activity"},
                ),
            ],
        )
    )


def test_exact_tree_matches():
    trace = build(
        node(
            "frontend",
            "POST /api/login",
            "server",
            attrs={"http.route": "/api/login", "http.response.status_code": 200},
            children=[node("frontend", "POST", "client", 1, 9)],
        )
    )
    result = match(
        shape("""
            root:
              service: frontend
              name: POST /api/login
              kind: server
              status: unset
              attributes: {http.route: /api/login, http.response.status_code: 200}
              children:
                - {service: frontend, name: POST, kind: client}
        """),
        trace,
    )
    assert result.ok, result.report()
    assert bool(result) is True
    assert [s.name for s in result.matched[result.shape.root]] == ["POST /api/login"]


def test_unordered_children_need_backtracking_not_first_match():
    # Both children are "GET" client spans; the first expected node (any GET)
    # also fits the profile call, which a greedy first match would take,
    # starving the second node that only the profile call fits.
    trace = fanout_trace()
    result = match(
        shape("""
            root:
              name: fanout
              children:
                - {id: any_get, name: GET}
                - {id: profile, name: GET, attributes: {url.full: {regex: '/users/\\d+$'}}}
        """),
        trace,
    )
    assert result.ok, result.report()
    assert [s.attributes["url.full"] for s in result.spans_for("profile")] == ["/users/1"]
    assert [s.attributes["url.full"] for s in result.spans_for("any_get")] == ["/users/1/activity"]


def test_distinct_subtrees_tell_identical_siblings_apart():
    trace = build(
        node(
            "gateway",
            "fanout",
            children=[
                node(
                    "gateway", "GET", "client", children=[node("user", "GET /users/{id}/activity")]
                ),
                node("gateway", "GET", "client", children=[node("user", "GET /users/{id}")]),
            ],
        )
    )
    result = match(
        shape("""
            root:
              name: fanout
              children:
                - id: profile
                  name: GET
                  children: [{name: 'GET /users/{id}'}]
                - id: activity
                  name: GET
                  children: [{name: 'GET /users/{id}/activity'}]
        """),
        trace,
    )
    assert result.ok, result.report()
    assert result.spans_for("profile")[0].start_ns == trace.spans[2].start_ns


@pytest.mark.parametrize(("n_children", "ok"), [(1, False), (2, True), (3, True), (4, False)])
def test_count_ranges(n_children, ok):
    sql = [node("db", "SELECT", "client", i, i + 1) for i in range(n_children)]
    trace = build(node("db", "GET /users/<id>", "server", children=sql))
    result = match(
        shape("""
            root:
              name: GET /users/<id>
              children:
                - {name: SELECT, kind: client, count: {min: 2, max: 3}}
        """),
        trace,
    )
    assert result.ok is ok, result.report()
    if not ok:
        assert any(m.what in ("count", "missing") for m in result.mismatches)


def test_exact_count_and_unbounded_min():
    trace = build(node("a", "root", children=[node("a", "x", start=i) for i in range(5)]))
    assert match(shape("root: {children: [{name: x, count: 5}]}"), trace).ok
    assert match(shape("root: {children: [{name: x, count: {min: 1}}]}"), trace).ok
    too_few = match(shape("root: {children: [{name: x, count: 6}]}"), trace)
    assert not too_few.ok
    assert "missing" in [m.what for m in too_few.mismatches]
    too_many = match(shape("root: {children: [{name: x, count: 4}]}"), trace)
    assert [(m.what, m.expected, m.found) for m in too_many.mismatches] == [
        ("count", "4", "5 span(s)")
    ]


def test_optional_child_with_min_zero():
    text = "root: {children: [{name: a}, {name: retry, count: {min: 0, max: 1}}]}"
    with_retry = build(node("s", "r", children=[node("s", "a"), node("s", "retry")]))
    without = build(node("s", "r", children=[node("s", "a")]))
    assert match(shape(text), with_retry).ok
    assert match(shape(text), without).ok


def test_regex_names_are_searched():
    trace = build(node("db", "SELECT tracelab", "client"))
    assert match(shape(r"root: {name_regex: ^SELECT\b}"), trace).ok
    result = match(shape("root: {name_regex: ^INSERT}"), trace)
    assert [(m.what, m.expected, m.found) for m in result.mismatches] == [
        ("name", "re'^INSERT'", "'SELECT tracelab'")
    ]


def test_ordered_children_follow_start_time():
    trace = build(
        node(
            "auth",
            "POST /login",
            "server",
            end=50,
            children=[
                node("auth", "auth.token_issue", start=30, end=40),
                node("auth", "auth.password_verify", start=10, end=20),
            ],
        )
    )
    in_order = (
        "root: {ordered: true, children: [{name: auth.password_verify}, {name: auth.token_issue}]}"
    )
    reversed_ = (
        "root: {ordered: true, children: [{name: auth.token_issue}, {name: auth.password_verify}]}"
    )
    assert match(shape(in_order), trace).ok
    result = match(shape(reversed_), trace)
    assert [m.what for m in result.mismatches] == ["child order"]
    assert "auth 'auth.password_verify' then auth 'auth.token_issue'" in result.mismatches[0].found
    # Unordered, the same shape matches.
    assert match(shape(reversed_.replace("ordered: true", "ordered: false")), trace).ok


def test_ordered_runs_with_counts_and_extras():
    names = ["a", "b", "b", "x", "c"]
    trace = build(node("s", "r", children=[node("s", n, start=i) for i, n in enumerate(names)]))
    base = "root: {ordered: true, %s children: [{name: a}, {name: b, count: 2}, {name: c}]}"
    assert not match(shape(base % ""), trace).ok
    assert match(shape(base % "allow_extra_children: true,"), trace).ok


def test_extra_children_are_reported_unless_allowed():
    trace = build(node("s", "r", children=[node("s", "a"), node("s", "surprise", "client")]))
    strict = match(shape("root: {children: [{name: a}]}"), trace)
    assert [(m.what, m.found) for m in strict.mismatches] == [
        ("unexpected child", "s 'surprise' [client] unset")
    ]
    assert match(shape("root: {allow_extra_children: true, children: [{name: a}]}"), trace).ok


def test_leaf_nodes_assert_no_children_by_default():
    trace = build(node("s", "r", children=[node("s", "a", children=[node("s", "deep")])]))
    result = match(shape("root: {children: [{name: a}]}"), trace)
    assert not result.ok
    assert "unexpected child" in [m.what for m in result.mismatches]


def test_status_kind_and_service_mismatches_name_the_node_and_values():
    trace = build(
        node(
            "frontend",
            "r",
            "server",
            children=[node("gateway", "GET", "server", status="error", message="boom")],
        )
    )
    result = match(
        shape("""
            root:
              children:
                - {id: call, service: frontend, name: GET, kind: client, status: unset}
        """),
        trace,
    )
    found = {m.what: (m.where, m.expected, m.found) for m in result.mismatches}
    node_name = "frontend 'GET' #call [root.children[0]]"
    assert found["service"] == (node_name, "'frontend'", "'gateway'")
    assert found["kind"] == (node_name, "client", "server")
    assert found["status"] == (node_name, "unset", "error ('boom')")


def test_attribute_matchers():
    attrs = {"http.response.status_code": 200, "url.full": "http://x/verify", "flag": True}
    trace = build(node("s", "r", attrs=attrs))
    good = """
        root:
          attributes:
            http.response.status_code: 200
            url.full: {regex: '/verify$'}
            flag: true
            server.port: {present: false}
    """
    assert match(shape(good), trace).ok
    bad = """
        root:
          attributes:
            http.response.status_code: {one_of: [201, 204]}
            url.full: {present: false}
            flag: 1
            server.address: {present: true}
    """
    result = match(shape(bad), trace)
    assert {m.what: (m.expected, m.found) for m in result.mismatches} == {
        "attribute http.response.status_code": ("one of 201, 204", "200"),
        "attribute url.full": ("absent", "'http://x/verify'"),
        "attribute flag": ("1", "true"),
        "attribute server.address": ("present", "missing"),
    }


def test_string_never_equals_number():
    trace = build(node("s", "r", attrs={"http.response.status_code": "200"}))
    assert not match(shape("root: {attributes: {http.response.status_code: 200}}"), trace).ok
    assert match(shape("root: {attributes: {http.response.status_code: '200'}}"), trace).ok


def test_absent_attributes_report_keys_but_never_values():
    secret = "hunter2-secret-value"
    trace = build(node("auth", "login", attrs={"user.password": secret, "enduser.id": "7"}))
    node_level = match(shape("root: {absent_attributes: ['*password*']}"), trace)
    assert [(m.what, m.found) for m in node_level.mismatches] == [
        ("absent attribute *password*", "present: user.password")
    ]
    trace_level = match(shape("absent_attributes: [user.password]\nroot: {}"), trace)
    assert [m.what for m in trace_level.mismatches] == ["absent attribute user.password"]
    assert secret not in node_level.report() and secret not in trace_level.report()


def test_events_and_absent_events():
    trace = build(
        node(
            "auth",
            "r",
            children=[node("auth", "auth.token_verify", status="error", events=("exception",))],
        )
    )
    wanted = "root: {absent_events: [exception], children: [{status: error, events: [exception]}]}"
    assert match(shape(wanted), trace).ok
    result = match(
        shape("root: {events: [exception], children: [{absent_events: [exception]}]}"), trace
    )
    assert sorted((m.what, m.found) for m in result.mismatches) == [
        ("absent event exception", "1 event(s)"),
        ("event", "no events"),
    ]


def test_event_attributes():
    from tracelab.shapes.model import Span, SpanEvent

    span = Span(
        "a" * 32,
        "b" * 16,
        None,
        "auth",
        "auth.token_verify",
        events=(SpanEvent("exception", 1, {"exception.type": "InvalidTokenError"}),),
    )
    trace = Trace([span])
    assert match(
        shape("root: {events: [{name: exception, attributes: {exception.type: {regex: Token}}}]}"),
        trace,
    ).ok
    assert not match(
        shape("root: {events: [{name: exception, attributes: {exception.type: KeyError}}]}"), trace
    ).ok


def test_concurrent_children_flag():
    text = "root: {concurrent_children: true, children: [{name: GET, count: 2}]}"
    assert match(shape(text), fanout_trace()).ok
    sequential = fanout_trace(first_end=4.0, second_start=5.0, second_end=9.0)
    result = match(shape(text), sequential)
    assert [m.what for m in result.mismatches] == ["concurrent children"]
    assert "do not overlap" in result.mismatches[0].found


def test_overlap_between_named_nodes():
    text = """
        overlap: [[profile, activity]]
        root:
          children:
            - {id: profile, attributes: {url.full: /users/1}}
            - {id: activity, attributes: {url.full: /users/1/activity}}
    """
    assert match(shape(text), fanout_trace()).ok
    result = match(shape(text), fanout_trace(first_end=4.0, second_start=5.0, second_end=9.0))
    assert [(m.where, m.what) for m in result.mismatches] == [
        ("overlap [profile, activity]", "time")
    ]
    assert "are disjoint" in result.mismatches[0].found


def test_single_trace_and_extra_roots():
    one = build(node("s", "root"))
    other = build(node("s", "root"), trace_id="f" * 32)
    mixed = Trace(list(one.spans) + [s for s in other.spans])
    result = match(shape("single_trace: true\nallow_extra_roots: true\nroot: {name: root}"), mixed)
    assert [m.what for m in result.mismatches] == ["trace ids"]
    strict = match(shape("root: {name: root}"), mixed)
    assert [m.what for m in strict.mismatches] == ["roots"]


def test_orphan_of_a_partial_trace_is_reported_as_an_extra_root():
    full = build(node("frontend", "r", "server", children=[node("gateway", "g", "server")]))
    # Drop the root: the gateway span's parent is missing, as when a batch is late.
    partial = Trace([s for s in full.spans if s.service == "gateway"])
    partial_with_other_root = Trace(
        [*partial.spans, *build(node("frontend", "r", "server"), trace_id="c" * 32).spans]
    )
    result = match(shape("root: {service: frontend, name: r}"), partial_with_other_root)
    assert "roots" in [m.what for m in result.mismatches]
    assert "not in trace" in next(m.found for m in result.mismatches if m.what == "roots")


def test_empty_trace():
    result = match(shape("root: {}"), Trace([]))
    assert not result.ok
    assert [(m.what, m.found) for m in result.mismatches] == [("spans", "no spans")]


def test_near_miss_child_is_diagnosed_deeply():
    trace = build(
        node(
            "gateway",
            "r",
            "server",
            children=[
                node(
                    "gateway",
                    "POST",
                    "client",
                    children=[node("auth", "POST /verify", "server", status="error")],
                )
            ],
        )
    )
    result = match(
        shape("""
            root:
              children:
                - name: POST
                  children:
                    - {id: verify, service: auth, name: POST /verify, status: unset}
        """),
        trace,
    )
    assert [(m.where, m.what, m.expected, m.found) for m in result.mismatches] == [
        (
            "auth 'POST /verify' #verify [root.children[0].children[0]]",
            "status",
            "unset",
            "error",
        )
    ]


def test_missing_child_when_nothing_resembles_it():
    trace = build(node("gateway", "r", "server", children=[]))
    result = match(
        shape("root: {children: [{service: user, name: 'GET /users/{id}', kind: server}]}"), trace
    )
    assert [(m.what, m.found) for m in result.mismatches] == [("missing", "0 under gateway 'r'")]


def test_assert_matches_raises_with_the_report():
    trace = build(node("s", "actual-name"))
    with pytest.raises(AssertionError) as info:
        assert_matches(shape("root: {name: expected-name}"), trace)
    assert "expected 'expected-name', found 'actual-name'" in str(info.value)
    assert assert_matches(shape("root: {name: actual-name}"), trace).ok
