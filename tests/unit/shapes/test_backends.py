"""Jaeger (/api/v3) and Tempo clients against a real local HTTP server replaying answers.

Jaeger's answers are recorded from the real Jaeger of the local stack
(``recorded/jaeger_v3_search.json``); Tempo's follow its documented formats
(``samples.tempo_v2``, ``samples.tempo_search``): Tempo cannot run here.
"""

from __future__ import annotations

import copy
import json
import socket
from datetime import datetime
from pathlib import Path

import pytest

from tests.unit.shapes import samples
from tests.unit.shapes.fake_backend import serve
from tracelab.shapes.backends import (
    BackendError,
    BackendUnavailable,
    JaegerClient,
    TempoClient,
    TraceNotFound,
    client_for,
)
from tracelab.shapes.query import QueryError, TraceQuery

JAEGER_PATH = f"/api/v3/traces/{samples.TRACE_ID}"
TEMPO_PATH = f"/api/v2/traces/{samples.TRACE_ID}"
RECORDED = json.loads((Path(__file__).parent / "recorded" / "jaeger_v3_search.json").read_text())
WINDOW = tuple(RECORDED["window"])


@pytest.fixture
def backend():
    with serve() as running:
        yield running


def _jaeger_without(*span_ids: str):
    """Jaeger's answer as an earlier fetch would have seen it: some batches still missing."""
    payload = copy.deepcopy(samples.otlp_hex())
    for resource in payload["result"]["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            scope["spans"] = [s for s in scope["spans"] if s["spanId"] not in span_ids]
    return payload


def test_jaeger_get_trace_reads_api_v3(backend):
    backend.answer(JAEGER_PATH, (200, samples.otlp_hex()))
    trace = JaegerClient(backend.url).get_trace(samples.TRACE_ID.upper())
    assert trace is not None
    assert trace.services == {"frontend", "auth"} and len(trace) == 3
    assert backend.hits(JAEGER_PATH) == 1


def test_tempo_get_trace_asks_for_json(backend):
    backend.answer(TEMPO_PATH, (200, samples.tempo_v2()))
    trace = TempoClient(backend.url).get_trace(samples.TRACE_ID)
    assert trace is not None and trace.trace_id == samples.TRACE_ID
    [(path, headers)] = backend.requests
    assert path == TEMPO_PATH and headers["Accept"] == "application/json"


@pytest.mark.parametrize("client_class", [JaegerClient, TempoClient])
def test_unknown_trace_is_none(backend, client_class):
    assert client_class(backend.url).get_trace("ab" * 16) is None
    assert client_class(backend.url).get_document("ab" * 16) is None


def test_empty_jaeger_answer_is_none(backend):
    backend.answer(JAEGER_PATH, (200, {"result": {"resourceSpans": []}}))
    assert JaegerClient(backend.url).get_trace(samples.TRACE_ID) is None


def test_server_error_is_a_backend_error(backend):
    backend.answer(JAEGER_PATH, (500, {"error": {"httpCode": 500, "message": "storage down"}}))
    with pytest.raises(BackendError, match=r"answered 500.*storage down"):
        JaegerClient(backend.url).get_trace(samples.TRACE_ID)


def test_unreachable_backend_is_backend_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BackendUnavailable, match="failed"):
        JaegerClient(f"http://127.0.0.1:{port}", timeout=0.5).ping()


def test_bad_trace_id_is_refused_before_any_request(backend):
    with pytest.raises(ValueError, match="not hex"):
        JaegerClient(backend.url).get_trace("not-a-trace-id")
    assert backend.requests == []


def test_document_download_is_plain_otlp(backend):
    backend.answer(TEMPO_PATH, (200, samples.tempo_v2()))
    document = TempoClient(backend.url).get_document(samples.TRACE_ID)
    assert list(document) == ["resourceSpans"]
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == samples.TRACE_ID


def test_wait_for_trace_waits_out_partial_batches(backend):
    backend.answer(
        JAEGER_PATH,
        (404, {"error": {"httpCode": 404, "message": "No traces found"}}),
        (200, _jaeger_without(samples.VERIFY_ID, samples.CLIENT_ID)),
        (200, _jaeger_without(samples.VERIFY_ID)),
        (200, samples.otlp_hex()),
    )
    trace = JaegerClient(backend.url).wait_for_trace(
        samples.TRACE_ID, services=("frontend", "auth"), timeout=10, interval=0.01
    )
    assert len(trace) == 3
    assert backend.hits(JAEGER_PATH) == 4


def test_wait_for_trace_min_spans(backend):
    backend.answer(TEMPO_PATH, (200, {"trace": {}}), (200, samples.tempo_v2()))
    trace = TempoClient(backend.url).wait_for_trace(samples.TRACE_ID, min_spans=3, interval=0.01)
    assert len(trace) == 3


def test_wait_for_trace_names_backend_id_and_what_it_saw(backend):
    backend.answer(JAEGER_PATH, (200, _jaeger_without(samples.VERIFY_ID)))
    client = JaegerClient(backend.url)
    with pytest.raises(TraceNotFound) as info:
        client.wait_for_trace(
            samples.TRACE_ID, services=("frontend", "auth", "db"), timeout=0.2, interval=0.05
        )
    message = str(info.value)
    assert f"jaeger ({backend.url})" in message
    assert samples.TRACE_ID in message
    assert "held 2 span(s) from frontend" in message
    assert "missing: auth, db" in message
    assert (
        info.value.backend == f"jaeger ({backend.url})" and info.value.trace_id == samples.TRACE_ID
    )


def test_wait_for_trace_that_never_appears(backend):
    with pytest.raises(TraceNotFound, match="never returned it"):
        TempoClient(backend.url).wait_for_trace(samples.TRACE_ID, timeout=0.1, interval=0.02)


def test_wait_for_trace_on_an_unreachable_backend_reports_the_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    client = JaegerClient(f"http://127.0.0.1:{port}", timeout=0.5)
    with pytest.raises(TraceNotFound, match=r"last error: jaeger: GET .* failed"):
        client.wait_for_trace(samples.TRACE_ID, timeout=0.1, interval=0.02)


def test_jaeger_services_and_operations(backend):
    backend.answer("/api/v3/services", (200, {"services": ["user", "auth", "frontend"]}))
    operations = {
        "operations": [
            {"name": "GET /api/dashboard", "spanKind": "server"},
            {"name": "GET", "spanKind": "client"},
            {"name": "GET", "spanKind": "server"},
        ]
    }
    backend.answer("/api/v3/operations", (200, operations))
    client = JaegerClient(backend.url)
    assert client.services() == ["auth", "frontend", "user"]
    assert client.operations("gateway") == ["GET", "GET /api/dashboard"]
    assert backend.query_of("/api/v3/operations") == {"service": "gateway"}


# -- Jaeger search -------------------------------------------------------------------
def _recorded_search(backend) -> None:
    backend.answer("/api/v3/traces", (200, RECORDED["answer"]))


def test_jaeger_search_splits_the_merged_answer_into_summaries(backend):
    _recorded_search(backend)
    result = JaegerClient(backend.url).search(
        TraceQuery(service="frontend", start=WINDOW[0], end=WINDOW[1], limit=20)
    )
    by_id = {s.trace_id: s for s in result.traces}
    ids = RECORDED["trace_ids"]
    assert set(by_id) == set(ids.values())
    dashboard = by_id[ids["dashboard"]]
    assert (dashboard.root_service, dashboard.root_name) == ("frontend", "GET /api/dashboard")
    assert dashboard.span_count == 17 and dashboard.error_count == 0
    assert dashboard.services == ("auth", "db", "frontend", "gateway", "user")
    assert by_id[ids["bad_token"]].error_count >= 1
    starts = [s.start_ns for s in result.traces]
    assert starts == sorted(starts, reverse=True)
    # Service and time go to Jaeger; with nothing else to filter, it is asked for `limit`.
    query = backend.query_of("/api/v3/traces")
    assert query["query.service_name"] == "frontend" and query["query.num_traces"] == "20"
    assert query["query.start_time_min"].endswith("Z") and "query.duration_min" not in query
    assert result.exhaustive and result.scanned == 4


def test_jaeger_search_filters_trace_duration_errors_and_attributes_itself(backend):
    _recorded_search(backend)
    client = JaegerClient(backend.url, scan_limit=500)
    ids = RECORDED["trace_ids"]
    window = {"start": WINDOW[0], "end": WINDOW[1]}
    errors = client.search(TraceQuery(errors_only=True, **window))
    # A 404 is an error on client spans (not on server spans): not_found has errors too.
    assert {s.trace_id for s in errors.traces} == {ids["bad_token"], ids["not_found"]}
    # Read in pages (250 at most): the recorded answer holds 4 traces, so one page.
    assert backend.query_of("/api/v3/traces")["query.num_traces"] == "250"
    assert backend.hits("/api/v3/traces") == 1
    assert errors.notes and "candidate traces" in errors.notes[0]
    by_route = client.search(TraceQuery(attributes={"http.route": "/api/dashboard"}, **window))
    assert {s.trace_id for s in by_route.traces} == {ids["dashboard"]}
    status = client.search(
        TraceQuery(service="frontend", attributes={"http.response.status_code": "404"}, **window)
    )
    assert {s.trace_id for s in status.traces} == {ids["not_found"]}
    # Attributes must hold on one span of the named service: 404 is not on auth.
    assert not client.search(
        TraceQuery(service="auth", attributes={"http.response.status_code": "404"}, **window)
    ).traces
    # Duration is the whole trace's: the dashboard is the longest of the four.
    longest = max(
        client.search(TraceQuery(**window)).traces, key=lambda s: s.duration_ms
    ).duration_ms
    slow = client.search(TraceQuery(min_duration_ms=longest, **window))
    assert [s.trace_id for s in slow.traces] == [
        s.trace_id for s in client.search(TraceQuery(**window)).traces if s.duration_ms >= longest
    ]
    assert not client.search(TraceQuery(max_duration_ms=0.001, **window)).traces


def _only(trace_ids: set[str]) -> dict:
    """The recorded answer holding only these traces."""
    answer = copy.deepcopy(RECORDED["answer"])
    for resource in answer["result"]["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            scope["spans"] = [s for s in scope["spans"] if s["traceId"] in trace_ids]
    return answer


def _start_of(trace_id: str) -> int:
    spans = _only({trace_id})["result"]["resourceSpans"]
    return min(
        int(s["startTimeUnixNano"]) for r in spans for sc in r["scopeSpans"] for s in sc["spans"]
    )


def test_jaeger_search_pages_back_in_time_and_skips_what_it_saw(backend):
    ids = RECORDED["trace_ids"]
    newest = {ids["not_found"], ids["bad_token"]}
    older = {ids["bad_token"], ids["dashboard"]}  # bad_token again: at the page boundary
    backend.answer(
        "/api/v3/traces", (200, _only(newest)), (200, _only(older)), (200, _only({ids["login"]}))
    )
    client = JaegerClient(backend.url, page_size=2)
    result = client.search(TraceQuery(errors_only=True, start=WINDOW[0], end=WINDOW[1]))
    assert {s.trace_id for s in result.traces} == {ids["bad_token"], ids["not_found"]}
    assert result.scanned == 4 and result.exhaustive  # the third page held less than a page
    pages = [q for path, q in backend.queries if path == "/api/v3/traces"]
    assert [q["query.num_traces"] for q in pages] == ["2", "2", "2"]
    oldest_of_first = min(_start_of(i) for i in newest) / 1e9
    second_end = datetime.fromisoformat(pages[1]["query.start_time_max"]).timestamp()
    assert second_end == pytest.approx(oldest_of_first, abs=1e-5)


def test_jaeger_search_stops_reading_once_enough_traces_matched(backend):
    ids = RECORDED["trace_ids"]
    backend.answer("/api/v3/traces", (200, _only({ids["not_found"], ids["bad_token"]})))
    result = JaegerClient(backend.url, page_size=2).search(
        TraceQuery(errors_only=True, limit=2, start=WINDOW[0], end=WINDOW[1])
    )
    assert len(result.traces) == 2 and backend.hits("/api/v3/traces") == 1


def test_jaeger_search_says_when_the_scan_was_not_exhaustive(backend):
    _recorded_search(backend)
    result = JaegerClient(backend.url, scan_limit=4, page_size=4).search(
        TraceQuery(errors_only=True, start=WINDOW[0], end=WINDOW[1])
    )
    assert result.scanned == 4 and not result.exhaustive
    assert "scan limit 4 reached" in result.notes[0]


def test_jaeger_search_no_match_and_refusals(backend):
    backend.answer(
        "/api/v3/traces",
        (404, {"error": {"httpCode": 404, "message": "No traces found"}}),
        (400, {"error": {"httpCode": 400, "message": "malformed parameter query.num_traces"}}),
    )
    client = JaegerClient(backend.url)
    empty = client.search(TraceQuery(service="nobody"))
    assert empty.traces == [] and empty.exhaustive
    with pytest.raises(QueryError, match="malformed parameter"):
        client.search(TraceQuery(service="x"))
    with pytest.raises(QueryError, match="Tempo's query language"):
        client.search(TraceQuery(traceql="{ }"))


def test_jaeger_find_traces_returns_whole_traces(backend):
    _recorded_search(backend)
    traces = JaegerClient(backend.url).find_traces(TraceQuery(start=WINDOW[0], end=WINDOW[1]))
    assert [len(t) for t in traces] and {len(t) for t in traces} <= {6, 10, 11, 17}
    assert all(t.trace_id for t in traces)


# -- Tempo search ----------------------------------------------------------------------
def test_tempo_search_sends_traceql_and_reads_the_documented_answer(backend):
    backend.answer("/api/search", (200, samples.tempo_search()))
    query = TraceQuery(
        service="frontend", errors_only=True, min_duration_ms=20, start=1000.4, end=2000.2
    )
    result = TempoClient(backend.url).search(query)
    sent = backend.query_of("/api/search")
    assert sent["q"] == query.to_traceql() == result.query
    assert (sent["limit"], sent["start"], sent["end"]) == ("20", "1000", "2001")
    first, second = result.traces
    assert first.trace_id == samples.TRACE_ID
    assert (first.span_count, first.error_count, first.services) == (3, 2, ("auth", "frontend"))
    assert first.duration_ms == 25.0
    assert second.trace_id == "00" + "7a1d2dd4deaf177e0acf55b3c49032"
    assert (second.span_count, second.services, second.duration_ms) == (None, None, 0.0)


def test_tempo_search_runs_the_persons_own_traceql(backend):
    backend.answer("/api/search", (200, {"traces": []}))
    own = '{ span.http.route = "/api/dashboard" } >> { resource.service.name = "db" }'
    result = TempoClient(backend.url).search(TraceQuery(traceql=own, service="ignored"))
    assert backend.query_of("/api/search")["q"] == own and result.query == own
    assert result.traces == []


def test_tempo_bad_traceql_is_a_query_error(backend):
    backend.answer("/api/search", (400, "invalid TraceQL query: parse error at line 1, col 3"))
    with pytest.raises(QueryError, match="parse error at line 1"):
        TempoClient(backend.url).search(TraceQuery(traceql="{ nonsense"))


def test_tempo_services_v2(backend):
    values = {
        "tagValues": [{"type": "string", "value": "gateway"}, {"type": "string", "value": "db"}]
    }
    backend.answer("/api/v2/search/tag/resource.service.name/values", (200, values))
    assert TempoClient(backend.url).services() == ["db", "gateway"]


def test_tempo_operations_are_span_names_filtered_by_service(backend):
    values = {"tagValues": [{"type": "string", "value": "GET /api/dashboard"}]}
    backend.answer("/api/v2/search/tag/name/values", (200, values))
    assert TempoClient(backend.url).operations('fr"ontend') == ["GET /api/dashboard"]
    assert backend.query_of("/api/v2/search/tag/name/values") == {
        "q": '{ resource.service.name = "fr\\"ontend" }'
    }


def test_tempo_services_falls_back_to_v1(backend):
    backend.answer("/api/search/tag/service.name/values", (200, {"tagValues": ["user", "auth"]}))
    assert TempoClient(backend.url).services() == ["auth", "user"]
    assert backend.hits("/api/v2/search/tag/resource.service.name/values") == 1


def test_tempo_ping_uses_echo(backend):
    backend.answer("/api/echo", (200, "echo"))
    TempoClient(backend.url).ping()
    assert backend.hits("/api/echo") == 1


def test_client_for():
    jaeger = client_for("jaeger")
    assert isinstance(jaeger, JaegerClient) and jaeger.base_url == "http://127.0.0.1:16686"
    tempo = client_for("Tempo", "http://tempo:3200/")
    assert isinstance(tempo, TempoClient) and tempo.base_url == "http://tempo:3200"
    with pytest.raises(ValueError, match="unknown backend 'zipkin'"):
        client_for("zipkin")
