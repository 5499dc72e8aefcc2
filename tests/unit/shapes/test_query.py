"""Trace queries: parsing a search form, its TraceQL, and the client-side filter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from werkzeug.datastructures import MultiDict

from tests.unit.shapes.builders import build, node
from tracelab.shapes.query import (
    QueryError,
    TraceQuery,
    parse_attributes,
    parse_duration_ms,
    parse_time_s,
    summarize,
)

NOW = 1_800_000_000.0


def test_durations():
    assert parse_duration_ms("250ms") == 250
    assert parse_duration_ms("1.5s") == 1500
    assert parse_duration_ms("300us") == pytest.approx(0.3)
    assert parse_duration_ms("2m") == 120_000
    assert parse_duration_ms(" 40 ") == 40
    with pytest.raises(QueryError, match="not a duration"):
        parse_duration_ms("fast")


def test_times():
    assert parse_time_s("1800000000000", "start") == NOW  # epoch ms
    assert parse_time_s("1800000000", "start") == NOW
    moment = datetime(2027, 1, 15, 8, tzinfo=UTC).timestamp()
    assert parse_time_s("2027-01-15T08:00:00Z", "start") == moment
    assert parse_time_s("2027-01-15T09:00:00+01:00", "start") == moment
    with pytest.raises(QueryError, match="no time zone"):
        parse_time_s("2027-01-15T08:00:00", "start")
    with pytest.raises(QueryError, match="neither epoch"):
        parse_time_s("yesterday", "start")


def test_attributes_are_logfmt():
    assert parse_attributes('http.route=/api/dashboard note="a b=c"') == {
        "http.route": "/api/dashboard",
        "note": "a b=c",
    }
    with pytest.raises(QueryError, match="not key=value"):
        parse_attributes("http.route")
    with pytest.raises(QueryError, match="No closing quotation"):
        parse_attributes('x="open')


def test_from_params_defaults_to_the_last_hour():
    query = TraceQuery.from_params({}, now=NOW)
    assert (query.start, query.end, query.limit) == (NOW - 3600, NOW, 20)
    assert not query.needs_trace_filter and query.to_traceql() == "{ }"


def test_from_params_full_form():
    params = MultiDict(
        {
            "service": " frontend ",
            "operation": "GET /api/dashboard",
            "attributes": "http.response.status_code=200",
            "errors": "on",
            "min_duration": "100ms",
            "max_duration": "2s",
            "lookback": "15m",
            "limit": "50",
        }
    )
    params.add("attr", "user.note=hello world")
    query = TraceQuery.from_params(params, now=NOW)
    assert query.service == "frontend" and query.limit == 50
    assert query.attributes == {"http.response.status_code": "200", "user.note": "hello world"}
    assert (query.min_duration_ms, query.max_duration_ms) == (100, 2000)
    assert query.start == NOW - 900 and query.errors_only and query.needs_trace_filter
    assert query.to_traceql() == (
        '{ resource.service.name = "frontend" && name = "GET /api/dashboard" && '
        '.http.response.status_code = 200 && .user.note = "hello world" } && '
        "{ status = error } && { traceDuration >= 100ms && traceDuration <= 2000ms }"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, "outside 1..1000"),
        ({"limit": "ten"}, "not a whole number"),
        ({"limit": "5000"}, "outside 1..1000"),
        ({"min_duration": "2s", "max_duration": "1s"}, "above max duration"),
        ({"start": "1800000000", "end": "1700000000"}, "start must be before end"),
        ({"operation": "GET"}, "needs its service"),
        ({"attributes": "a{b=1"}, "not valid"),
        ({"service": "x" * 301}, "longer than 300"),
        ({"q": "{" * 4001}, "longer than 4000"),
        ({"min_duration": "-5ms"}, "not a duration"),
    ],
)
def test_malformed_queries_say_what_is_wrong(params, message):
    with pytest.raises(QueryError, match=message):
        TraceQuery.from_params(params, now=NOW)


def test_traceql_quotes_strings_and_odd_attribute_names():
    query = TraceQuery(service='a"b\\c', attributes={"x-forwarded-for": "1.2.3.4", "ok": "true"})
    assert query.to_traceql() == (
        '{ resource.service.name = "a\\"b\\\\c" && ."x-forwarded-for" = "1.2.3.4" && .ok = true }'
    )
    assert TraceQuery(min_duration_ms=0.25).to_traceql() == "{ traceDuration >= 250us }"


def _dashboard(duration_ms: float = 60, status: str = "unset"):
    return build(
        node(
            "frontend",
            "GET /api/dashboard",
            "server",
            0,
            duration_ms,
            attrs={"http.route": "/api/dashboard"},
            children=[
                node(
                    "gateway",
                    "GET",
                    "client",
                    1,
                    duration_ms - 1,
                    status=status,
                    attrs={"http.response.status_code": 200},
                ),
            ],
        )
    )


def test_matches_applies_the_whole_query_to_the_whole_trace():
    trace = _dashboard()
    assert TraceQuery().matches(trace)
    assert TraceQuery(service="frontend", attributes={"http.route": "/api/dashboard"}).matches(
        trace
    )
    # Every condition on one span: the route is on frontend, the status code on gateway.
    assert not TraceQuery(
        attributes={"http.route": "/api/dashboard", "http.response.status_code": "200"}
    ).matches(trace)
    assert TraceQuery(service="gateway", attributes={"http.response.status_code": "200"}).matches(
        trace
    )
    assert not TraceQuery(errors_only=True).matches(trace)
    assert TraceQuery(errors_only=True).matches(_dashboard(status="error"))
    assert TraceQuery(min_duration_ms=60).matches(trace)
    assert not TraceQuery(min_duration_ms=60.001).matches(trace)
    assert not TraceQuery(max_duration_ms=59).matches(trace)
    # Resource attributes count too (the builder gives each span service.name in its resource).
    assert TraceQuery(attributes={"missing": "x"}).matches(trace) is False


def test_summarize():
    summary = summarize(_dashboard(status="error"))
    assert (summary.root_service, summary.root_name, summary.span_count) == (
        "frontend",
        "GET /api/dashboard",
        2,
    )
    assert summary.error_count == 1 and summary.services == ("frontend", "gateway")
    assert summary.to_dict()["duration_ms"] == 60.0
