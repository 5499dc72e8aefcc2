"""Each scenario's signature on hand-built traces: the detector's finding that is it, and not.

The signatures are trace detectors' findings (tracelab.analysis.findings);
these tests hold, per scenario, the trace that shows it beside the one that
does not: a near miss across its threshold or its rule (which finding).
"""

from __future__ import annotations

import dataclasses

import pytest

from services.common.faults import SCENARIOS
from tests.unit.shapes.builders import flat_span as span
from tracelab.analysis.findings import DETECTORS
from tracelab.scenarios.signatures import SIGNATURES
from tracelab.shapes.model import SpanEvent, Trace


def judge(name, trace, client=None, **params):
    return SIGNATURES[name].judge(trace, SCENARIOS[name].params(params), client)


def test_every_scenario_has_a_signature_on_a_known_detector():
    assert set(SIGNATURES) == set(SCENARIOS)
    assert {s.detector for s in SIGNATURES.values()} <= set(DETECTORS)


def test_slow_query_is_a_dominating_sql_query():
    root = span(1, None, "frontend", "GET /api/dashboard", "server", 0, 320)
    sql = {"db.system": "postgresql", "db.statement": "SELECT ..."}
    slow = Trace([root, span(2, 1, "db", "SELECT", "client", 10, 310, **sql)])
    verdict = judge("slow-query", slow)
    assert verdict.present and "db SELECT alone takes 94%" in verdict.detail
    # Most of the trace, but shorter than half the scan: not the scan.
    quick = Trace(
        [
            span(1, None, "frontend", "GET", "server", 0, 140),
            span(2, 1, "db", "SELECT", "client", 1, 139, **sql),
        ]
    )
    assert not judge("slow-query", quick).present
    assert judge("slow-query", quick, scan_ms=200).present
    # A dominating span that is no SQL query is another problem.
    busy = Trace([root, span(2, 1, "user", "work", "internal", 10, 310)])
    verdict = judge("slow-query", busy)
    assert not verdict.present and "it found: user work alone takes" in verdict.detail


def test_n_plus_one_is_one_call_per_item():
    parent = span(1, None, "user", "GET /users/{id}/activity", "server", 0, 50)
    calls = [
        span(
            10 + i,
            1,
            "user",
            "GET",
            "client",
            i * 10,
            i * 10 + 5,
            **{"url.full": f"http://db/activity/{i}"},
        )
        for i in range(4)
    ]
    assert judge("n-plus-one", Trace([parent, *calls])).present
    assert not judge("n-plus-one", Trace([parent, *calls[:2]])).present


def test_sequential_fanout_is_calls_that_do_not_overlap():
    fanout = span(1, None, "gateway", "gateway.dashboard_fanout", "internal", 0, 30)
    profile = {"url.full": "http://user/users/1"}
    activity = {"url.full": "http://user/users/1/activity"}
    overlapping = Trace(
        [
            fanout,
            span(2, 1, "gateway", "GET", "client", 1, 10, **profile),
            span(3, 1, "gateway", "GET", "client", 2, 12, **activity),
        ]
    )
    sequential = Trace(
        [
            fanout,
            span(2, 1, "gateway", "GET", "client", 1, 10, **profile),
            span(3, 1, "gateway", "GET", "client", 11, 20, **activity),
        ]
    )
    assert not judge("sequential-fanout", overlapping).present
    assert judge("sequential-fanout", sequential).present


def test_pool_starvation_is_a_wait_on_the_starved_pool():
    root = span(1, None, "db", "GET /users/<user_id>", "server", 0, 50)

    def waited(ms, pool_max):
        attrs = {"tracelab.pool.wait_ms": ms, "db.client.connection.pool.max": pool_max}
        return Trace([root, span(2, 1, "db", "db.pool.wait", "internal", 0, ms, **attrs)])

    assert judge("pool-starvation", waited(30, 1)).present
    assert not judge("pool-starvation", waited(30, 10)).present  # a healthy pool
    assert not judge("pool-starvation", waited(20, 1)).present  # under half a hold (50 ms)
    assert judge("pool-starvation", waited(20, 1), hold_ms=30).present


def test_flaky_auth_is_an_error_that_began_in_auths_injected_fault():
    def failed(exception_type):
        event = SpanEvent("exception", 0, {"exception.type": exception_type})
        verify = span(3, 2, "auth", "auth.token_verify", "internal", 2, 3, status="error")
        return Trace(
            [
                span(
                    1,
                    None,
                    "frontend",
                    "GET /api/users/1",
                    "server",
                    0,
                    10,
                    status="error",
                    **{"http.response.status_code": 503},
                ),
                span(
                    2,
                    1,
                    "auth",
                    "POST /verify",
                    "server",
                    1,
                    4,
                    status="error",
                    **{"http.response.status_code": 503},
                ),
                dataclasses.replace(verify, events=(event,)),
            ]
        )

    assert judge("flaky-auth", failed("services.common.faults.InjectedFault")).present
    verdict = judge("flaky-auth", failed("TimeoutError"))
    assert not verdict.present and "error began in auth auth.token_verify" in verdict.detail


def test_retry_storm_is_the_same_call_again():
    parent = span(1, None, "user", "GET /users/{id}/activity", "server", 0, 400)
    url = {"url.full": "http://db/users/1/activity"}
    first = span(2, 1, "user", "GET", "client", 0, 120, status="error", **url)
    again = span(3, 1, "user", "GET", "client", 121, 240, **url, **{"http.request.resend_count": 1})
    assert judge("retry-storm", Trace([parent, first, again])).present
    assert not judge("retry-storm", Trace([parent, first])).present


class Backend:
    """Answers the broken-trace detector's lookup with the traces given (in memory)."""

    def __init__(self, *traces):
        self.traces = list(traces)
        self.asked = 0

    def find_traces(self, query):
        self.asked += 1
        return self.traces


def test_lost_context_is_a_trace_continued_in_one_of_its_own():
    server = span(1, None, "user", "GET /users/{id}/activity", "server", 0, 50)
    piece = Trace([span(9, None, "user", "GET", "client", 10, 20, trace_id="b" * 32)])
    verdict = judge("lost-context", Trace([server]), Backend(piece))
    assert verdict.present and "b" * 32 in str(verdict.findings[0].evidence["continued_in"])
    # A leaf server span with no piece elsewhere: no signature (after waiting for one).
    signature = dataclasses.replace(SIGNATURES["lost-context"], wait_s=0.6)
    empty = Backend()
    assert not signature.judge(Trace([server]), {}, empty).present
    assert empty.asked >= 2
    # Nothing that could be continued elsewhere: no wait, one look.
    called = Trace([server, span(2, 1, "user", "GET", "client", 1, 5)])
    once = Backend()
    assert not SIGNATURES["lost-context"].judge(called, {}, once).present
    assert once.asked == 0


def test_blocking_loop_is_a_call_into_or_out_of_user_waiting_on_a_block():
    def call(client_service, server_service, server_start, server_end):
        return Trace(
            [
                span(1, None, client_service, "GET", "client", 0, 310),
                span(2, 1, server_service, "GET /x", "server", server_start, server_end),
            ]
        )

    # user read db's answer late, or accepted gateway's request late: both count.
    assert judge("blocking-loop", call("user", "db", 1, 4)).present
    assert judge("blocking-loop", call("gateway", "user", 302, 306)).present
    # The server worked the whole time: no unexplained wait.
    assert not judge("blocking-loop", call("user", "db", 1, 300)).present
    # A slow call that never touches user is something else.
    verdict = judge("blocking-loop", call("gateway", "auth", 302, 306))
    assert not verdict.present and "it found: gateway GET waited" in verdict.detail
    # Under half the block: noise, not the block.
    assert not judge("blocking-loop", call("user", "db", 1, 4), block_ms=700).present


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_an_empty_trace_shows_no_signature(name):
    assert not judge(name, Trace([span(1, None, "frontend", "GET", "server", 0, 1)])).present


def test_slow_external_is_a_dominating_call_with_nothing_under_it():
    root = span(1, None, "frontend", "GET /api/dashboard", "server", 0, 850)
    handler = span(2, 1, "user", "GET /users/{id}", "server", 5, 845)
    http = {"http.request.method": "GET", "url.full": "http://127.0.0.1:4/avatars/3?delay_ms=800"}
    external = span(3, 2, "user", "GET", "client", 10, 810, **http)
    verdict = judge("slow-external", Trace([root, handler, external]))
    assert verdict.present and "user GET alone takes 94%" in verdict.detail
    # Near miss: the same long call, but the callee traces it (a server span under it).
    served = span(4, 3, "db", "GET /users/<int:user_id>", "server", 11, 809)
    verdict = judge("slow-external", Trace([root, handler, external, served]))
    assert not verdict.present and "it found: db GET /users/<int:user_id> alone" in verdict.detail
    # Near miss: a dominating leaf client span that is a SQL query is slow-query's.
    sql = span(3, 2, "db", "SELECT", "client", 10, 810, **{"db.system": "postgresql"})
    assert not judge("slow-external", Trace([root, handler, sql])).present
    # Under half the partner's delay: not the wait it injects.
    assert not judge("slow-external", Trace([root, handler, external]), delay_ms=2000).present
