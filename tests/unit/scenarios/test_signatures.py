"""The measured part of each scenario signature, on hand-built traces."""

from __future__ import annotations

from tracelab.scenarios.signatures import (
    Context,
    blocking_loop,
    flaky_auth,
    n_plus_one,
    pool_starvation,
    retry_storm,
    sequential_fanout,
    slow_query,
)
from tracelab.shapes.model import Span, SpanEvent, Trace

MS = 1_000_000


def span(sid, parent, service, name, kind, start_ms, end_ms, **attributes):
    return Span(
        trace_id="a" * 32,
        span_id=f"{sid:016x}",
        parent_span_id=f"{parent:016x}" if parent else None,
        service=service,
        name=name,
        kind=kind,
        start_ns=int(start_ms * MS),
        end_ns=int(end_ms * MS),
        attributes=attributes,
    )


CTX = Context(params={"block_ms": 300, "pool_size": 1})


def test_slow_query_needs_one_sql_span_over_half_the_trace():
    root = span(1, None, "frontend", "GET /api/dashboard", "server", 0, 100)
    fast = Trace([root, span(2, 1, "db", "SELECT", "client", 10, 12, **{"db.system": "pg"})])
    slow = Trace([root, span(2, 1, "db", "SELECT", "client", 10, 90, **{"db.system": "pg"})])
    assert not slow_query(fast, CTX).present
    finding = slow_query(slow, CTX)
    assert finding.present and "80%" in finding.detail


def test_n_plus_one_counts_queries_under_the_activity_request():
    spans = [span(1, None, "user", "GET /users/{id}/activity", "server", 0, 50)]
    for i in range(4):
        spans.append(
            span(10 + i, 1, "db", "SELECT", "client", i * 10, i * 10 + 5, **{"db.system": "pg"})
        )
    assert n_plus_one(Trace(spans), CTX).present
    assert not n_plus_one(Trace(spans[:2]), CTX).present


def test_sequential_fanout_is_calls_that_do_not_overlap():
    fanout = span(1, None, "gateway", "gateway.dashboard_fanout", "internal", 0, 30)
    overlapping = Trace(
        [
            fanout,
            span(2, 1, "gateway", "GET", "client", 1, 10),
            span(3, 1, "gateway", "GET", "client", 2, 12),
        ]
    )
    sequential = Trace(
        [
            fanout,
            span(2, 1, "gateway", "GET", "client", 1, 10),
            span(3, 1, "gateway", "GET", "client", 11, 20),
        ]
    )
    assert not sequential_fanout(overlapping, CTX).present
    assert sequential_fanout(sequential, CTX).present


def test_pool_starvation_counts_waits_on_a_starved_pool_only():
    root = span(1, None, "db", "GET /users/<user_id>", "server", 0, 50)
    wait = {"tracelab.pool.wait_ms": 30.0, "db.client.connection.pool.max": 1}
    starved = Trace([root, span(2, 1, "db", "db.pool.wait", "internal", 0, 30, **wait)])
    healthy = Trace(
        [
            root,
            span(
                2,
                1,
                "db",
                "db.pool.wait",
                "internal",
                0,
                30,
                **{**wait, "db.client.connection.pool.max": 10},
            ),
        ]
    )
    assert pool_starvation(starved, CTX).present
    assert not pool_starvation(healthy, CTX).present


def test_flaky_auth_wants_the_injected_exception_on_token_verify():
    event = SpanEvent("exception", 0, {"exception.type": "services.common.faults.InjectedFault"})
    verify = span(1, None, "auth", "auth.token_verify", "internal", 0, 1)
    failed = Trace([Span(**{**verify.__dict__, "events": (event,), "status": "error"})])
    assert flaky_auth(failed, CTX).present
    assert not flaky_auth(Trace([verify]), CTX).present


def test_retry_storm_wants_resent_client_spans():
    first = span(1, None, "user", "GET", "client", 0, 10)
    retry = span(2, None, "user", "GET", "client", 10, 20, **{"http.request.resend_count": 2})
    assert retry_storm(Trace([first, retry]), CTX).detail.endswith("3 attempt(s)")
    assert not retry_storm(Trace([first]), CTX).present


def test_blocking_loop_is_a_client_waiting_longer_than_its_server_worked():
    client = span(1, None, "user", "GET", "client", 0, 310)
    quick_server = span(2, 1, "db", "GET /users/<user_id>/activity", "server", 1, 4)
    assert blocking_loop(Trace([client, quick_server]), CTX).present
    busy_server = span(2, 1, "db", "GET /users/<user_id>/activity", "server", 1, 300)
    assert not blocking_loop(Trace([client, busy_server]), CTX).present


def test_blocking_loop_also_counts_a_request_user_accepted_late():
    gateway_call = span(1, None, "gateway", "GET", "client", 0, 310)
    late_user_server = span(2, 1, "user", "GET /users/{id}/activity", "server", 302, 306)
    finding = blocking_loop(Trace([gateway_call, late_user_server]), CTX)
    assert finding.present
    assert "gateway GET client span" in finding.detail
    prompt_user_server = span(2, 1, "user", "GET /users/{id}/activity", "server", 1, 306)
    assert not blocking_loop(Trace([gateway_call, prompt_user_server]), CTX).present


def test_blocking_loop_ignores_slow_calls_that_do_not_touch_user():
    auth_call = span(1, None, "gateway", "POST", "client", 0, 310)
    auth_server = span(2, 1, "auth", "POST /verify", "server", 302, 306)
    assert not blocking_loop(Trace([auth_call, auth_server]), CTX).present
