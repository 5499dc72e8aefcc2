"""Each detector on traces built in memory: the case it must flag and the one it must not.

Every test holds a pair across the detector's threshold or rule, so a
detector whose threshold or rule is broken fails here.
"""

from __future__ import annotations

import pytest

from tests.unit.shapes.builders import flat_span as span
from tracelab.analysis.findings import AnalysisContext, Thresholds, analyze
from tracelab.shapes.model import SpanEvent, Trace

MS = 1_000_000


def kinds(trace, **overrides):
    ctx = AnalysisContext(Thresholds().with_overrides(overrides))
    return [finding.kind for finding in analyze(trace, ctx)]


def calls(parent, count, *, start=1.0, step=6.0, width=5.0, same_target=False):
    return [
        span(
            100 + i,
            parent,
            "user",
            "GET",
            "client",
            start + i * step,
            start + i * step + width,
            **{"url.full": "http://db/activity/1" if same_target else f"http://db/activity/{i}"},
        )
        for i in range(count)
    ]


ROOT = span(1, None, "user", "GET /users/{id}/activity", "server", 0, 100)


def test_n_plus_one_from_three_calls_of_one_operation_to_different_targets():
    assert kinds(Trace([ROOT, *calls(1, 3)])) == ["n-plus-one"]
    assert "n-plus-one" not in kinds(Trace([ROOT, *calls(1, 3)]), repeated_calls=4)
    # The same target three times is a retry loop, not an N+1.
    assert "n-plus-one" not in kinds(Trace([ROOT, *calls(1, 3, same_target=True)]))
    [finding] = analyze(Trace([ROOT, *calls(1, 5)]), kinds=["n-plus-one"])
    assert finding.evidence["calls"] == 5 and len(finding.spans) == 5
    assert finding.evidence["parent"] == ROOT.span_id


def test_sequential_fanout_is_a_few_calls_one_after_another():
    assert kinds(Trace([ROOT, *calls(1, 2)])) == ["sequential-fanout"]
    overlapping = calls(1, 2, step=2.0)  # the second starts before the first ends
    assert kinds(Trace([ROOT, *overlapping])) == []
    [finding] = analyze(Trace([ROOT, *calls(1, 2)]), kinds=["sequential-fanout"])
    assert finding.evidence == {
        "calls": 2,
        "serial_ms": 10.0,
        "concurrent_ms": 5.0,
        "gaps_ms": [1.0],
    }
    # Two different operations (verify with auth, then fetch the user) are not a fan-out.
    verify = span(2, 1, "gateway", "POST", "client", 1, 5, **{"url.full": "http://auth/verify"})
    fetch = span(3, 1, "gateway", "GET", "client", 6, 9, **{"url.full": "http://user/users/1"})
    assert kinds(Trace([ROOT, verify, fetch])) == []


def test_dominating_span_needs_both_the_share_and_the_length():
    slow = span(2, 1, "db", "SELECT", "client", 10, 90, **{"db.system": "postgresql"})
    long_root = span(1, None, "frontend", "GET /api/dashboard", "server", 0, 100)
    assert kinds(Trace([long_root, slow]), dominating_min_ms=50) == ["dominating-span"]
    assert kinds(Trace([long_root, slow])) == []  # 80 ms: under the 100 ms default
    assert kinds(Trace([long_root, slow]), dominating_min_ms=50, dominating_share=0.9) == []
    [finding] = analyze(
        Trace([long_root, slow]),
        AnalysisContext(Thresholds(dominating_min_ms=50)),
        kinds=["dominating-span"],
    )
    assert finding.spans == (slow.span_id,) and finding.evidence["share"] == 0.8


def test_retries_are_the_same_call_again_after_a_failure_or_marked_as_resend():
    first = span(
        2, 1, "user", "GET", "client", 1, 20, status="error", **{"url.full": "http://db/a"}
    )
    again = span(3, 1, "user", "GET", "client", 21, 40, **{"url.full": "http://db/a"})
    assert kinds(Trace([ROOT, first, again])) == ["retries"]
    ok_first = span(2, 1, "user", "GET", "client", 1, 20, **{"url.full": "http://db/a"})
    assert "retries" not in kinds(Trace([ROOT, ok_first, again]))  # nothing failed or resent
    resent = span(
        3,
        1,
        "user",
        "GET",
        "client",
        21,
        40,
        **{"url.full": "http://db/a", "http.request.resend_count": 1},
    )
    [finding] = analyze(Trace([ROOT, ok_first, resent]), kinds=["retries"])
    assert finding.evidence["attempts"] == 2 and finding.evidence["resend_counts"] == [0, 1]
    assert "retries" not in kinds(Trace([ROOT, first, again]), retry_attempts=3)


def test_pool_wait_totals_the_waits_against_the_threshold():
    waits = [
        span(2, 1, "db", "db.pool.wait", "internal", 0, 12, **{"db.client.connection.pool.max": 1}),
        span(
            3, 1, "db", "db.pool.wait", "internal", 20, 30, **{"db.client.connection.pool.max": 1}
        ),
    ]
    [finding] = analyze(Trace([ROOT, *waits]), kinds=["pool-wait"])
    assert finding.evidence == {"waits": 2, "total_ms": 22.0, "longest_ms": 12.0, "pool_max": [1]}
    assert kinds(Trace([ROOT, *waits]), pool_wait_ms=25) == []
    assert kinds(Trace([ROOT, waits[0]])) == []  # 12 ms: under the 20 ms default


def test_broken_trace_orphans_client_roots_and_the_piece_elsewhere():
    orphan = span(5, 99, "db", "GET /x", "server", 2, 3)
    assert "broken-trace" in kinds(Trace([ROOT, orphan]))
    client_root = Trace([span(7, None, "user", "GET", "client", 0, 3)])
    [finding] = analyze(client_root, kinds=["broken-trace"])
    assert "context" in finding.title and finding.spans == (f"{7:016x}",)
    assert kinds(Trace([ROOT, *calls(1, 1)])) == []

    # The lost-context main piece: a leaf server span, while a client-rooted trace of
    # the same service started during it.
    leaf = span(1, None, "user", "GET /users/{id}/activity", "server", 0, 50)
    piece = Trace([span(12, None, "user", "GET", "client", 10, 20, trace_id="b" * 32)])
    seen = []

    def find(service, start, end):
        seen.append((service, start, end))
        return [piece]

    [found] = analyze(Trace([leaf]), AnalysisContext(find_traces=find), kinds=["broken-trace"])
    assert found.evidence["continued_in"] == ["b" * 32] and seen[0][0] == "user"
    late = Trace([span(12, None, "user", "GET", "client", 60, 70, trace_id="b" * 32)])
    assert analyze(Trace([leaf]), AnalysisContext(find_traces=lambda *_: [late])) == []


def test_blocked_wait_is_a_client_waiting_longer_than_its_server_worked():
    client = span(2, 1, "gateway", "GET", "client", 0, 90)
    busy = span(3, 2, "user", "GET /users/{id}", "server", 5, 85)
    idle = span(3, 2, "user", "GET /users/{id}", "server", 70, 85)
    assert kinds(Trace([ROOT, client, busy])) == []
    [finding] = analyze(Trace([ROOT, client, idle]), kinds=["blocked-wait"])
    assert finding.evidence == {"client_ms": 90.0, "server_ms": 15.0, "unexplained_ms": 75.0}
    assert kinds(Trace([ROOT, client, idle]), blocked_slack_ms=80) == []
    assert kinds(Trace([ROOT, client, idle]), blocked_slack_share=0.9) == []


def _failing(edge_status: int, edge_error: bool, inner_status: int = 503):
    exception = SpanEvent(
        "exception", 3 * MS, {"exception.type": "InjectedFault", "exception.message": "boom"}
    )
    return Trace(
        [
            span(
                1,
                None,
                "frontend",
                "GET /api/users/<id>",
                "server",
                0,
                10,
                status="error" if edge_error else "unset",
                **{"http.response.status_code": edge_status},
            ),
            span(
                2,
                1,
                "frontend",
                "GET",
                "client",
                1,
                9,
                status="error",
                **{"http.response.status_code": edge_status},
            ),
            span(
                3,
                2,
                "auth",
                "POST /verify",
                "server",
                2,
                8,
                status="error" if inner_status >= 500 else "unset",
                **{"http.response.status_code": inner_status},
            ),
            span(
                4,
                3,
                "auth",
                "auth.token_verify",
                "internal",
                3,
                4,
                status="error",
                events=[exception],
            ),
        ]
    )


def test_error_origin_finds_where_a_failed_trace_began_failing():
    [finding] = analyze(_failing(502, True), kinds=["error-origin"])
    assert finding.evidence["origin_service"] == "auth"
    assert finding.evidence["cause"] == "InjectedFault: boom"
    assert finding.evidence["path"] == [
        "auth auth.token_verify",
        "auth POST /verify",
        "frontend GET",
        "frontend GET /api/users/<id>",
    ]
    assert finding.spans[0] == f"{4:016x}"


def test_an_expected_4xx_is_not_an_error_finding():
    # A bad token: errors inside, but the edge answered 401 and its span is not an error.
    assert kinds(_failing(401, False, inner_status=401)) == []
    # ...while a 5xx inside is one, even when the edge hides it.
    assert kinds(_failing(401, False, inner_status=503)) == ["error-origin"]


def test_thresholds_from_name_value_pairs():
    assert Thresholds().with_overrides({"repeated_calls": "5"}).repeated_calls == 5
    with pytest.raises(ValueError, match="unknown threshold 'nope'"):
        Thresholds().with_overrides({"nope": 1})
    with pytest.raises(ValueError, match="must be a number"):
        Thresholds().with_overrides({"pool_wait_ms": "lots"})
    with pytest.raises(ValueError, match="unknown detector"):
        analyze(Trace([ROOT]), kinds=["astrology"])
