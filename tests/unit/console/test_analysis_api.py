"""The console's analysis API in-process: its documents and its error contract.

Traces are recorded Jaeger answers served over real HTTP; the span metrics a
Prometheus text page served the same way.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.unit.analysis.test_service_map import series, text
from tests.unit.console.helpers import HOST, RECORDED, _closed_url, _error, get, one_trace
from tracelab.console.api import CONSOLE_KEY
from tracelab.console.app import create_app

DASHBOARD = RECORDED["trace_ids"]["dashboard"]
LOGIN = RECORDED["trace_ids"]["login"]


@pytest.fixture
def jaeger(backends):
    jaeger = backends[0]
    for trace_id in (DASHBOARD, LOGIN):
        jaeger.answer(f"/api/v3/traces/{trace_id}", (200, one_trace(trace_id)))
    return jaeger


def test_findings_on_a_golden_journey_are_none(client, jaeger):
    answer = get(client, f"/api/trace/{DASHBOARD}/findings").get_json()
    assert answer["trace_id"] == DASHBOARD and answer["findings"] == []
    assert answer["thresholds"]["repeated_calls"] == 3


def test_findings_thresholds_change_what_is_found(client, jaeger):
    # Lowered until the largest own time of the 19.8 ms dashboard (a few ms) dominates.
    lowered = get(
        client,
        f"/api/trace/{DASHBOARD}/findings?threshold=dominating_share=0.1"
        "&threshold=dominating_min_ms=1",
    ).get_json()
    (finding,) = lowered["findings"]
    assert finding["kind"] == "dominating-span"
    assert lowered["thresholds"]["dominating_share"] == 0.1


def test_findings_bad_input(client, jaeger):
    _error(get(client, f"/api/trace/{DASHBOARD}/findings?threshold=nope"), 400, "invalid_threshold")
    _error(
        get(client, f"/api/trace/{DASHBOARD}/findings?threshold=no_such=1"),
        400,
        "invalid_threshold",
    )
    _error(get(client, "/api/trace/xyz/findings"), 400, "invalid_trace_id")
    _error(get(client, f"/api/trace/{'ab' * 16}/findings"), 404, "trace_not_found")


def test_the_diff_takes_the_journeys_shape_or_the_one_asked_for(client, jaeger):
    own = get(client, f"/api/trace/{DASHBOARD}/diff").get_json()
    assert own["shape_name"] == "dashboard" and own["ok"] is True
    assert all(node["status"] == "ok" for node in own["nodes"])
    other = get(client, f"/api/trace/{DASHBOARD}/diff?shape=login").get_json()
    assert other["shape_name"] == "login" and other["ok"] is False
    assert other["mismatches"]
    _error(get(client, f"/api/trace/{DASHBOARD}/diff?shape=nope"), 404, "unknown_shape")


def test_the_shapes_list_has_journeys_and_scenario_signatures(client):
    shapes = get(client, "/api/shapes").get_json()["shapes"]
    kinds = {s["name"]: s["kind"] for s in shapes}
    assert {"dashboard", "login", "profile", "bad_token", "not_found"} <= set(kinds)
    assert len(set(kinds.values())) == 2


def test_compare_two_traces_and_its_bad_input(client, jaeger):
    same = get(client, f"/api/compare?a={DASHBOARD}&b={DASHBOARD}").get_json()
    assert len(same["matched"]) == 17 and same["only_a"] == same["only_b"] == []
    assert same["delta_ms"] == 0
    other = get(client, f"/api/compare?a={DASHBOARD}&b={LOGIN}").get_json()
    assert other["only_a"] and other["only_b"]
    _error(get(client, f"/api/compare?a={DASHBOARD}"), 400, "invalid_query")
    _error(get(client, f"/api/compare?a={DASHBOARD}&b=zz"), 400, "invalid_trace_id")


def test_critical_path_of_recorded_dashboards(client, jaeger):
    jaeger.answer("/api/v3/traces", (200, RECORDED["answer"]))
    start, end = RECORDED["window"]
    answer = get(
        client,
        f"/api/critical-path?journey=dashboard&last=10&start={int(start * 1000) - 1000}"
        f"&end={int(end * 1000) + 1000}",
    ).get_json()
    assert answer["journey"] == "dashboard" and answer["profile"]["traces"] == 1
    services = {op["service"] for op in answer["profile"]["operations"]}
    assert services == {"frontend", "gateway", "auth", "user", "db"}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("journey=dashboard&last=0", "invalid_query"),
        ("journey=dashboard&last=many", "invalid_query"),
        ("journey=dashboard&lookback=forever", "invalid_query"),
        ("journey=dashboard&start=2000&end=1000", "invalid_query"),
        ("journey=nope", "unknown_journey"),
    ],
)
def test_critical_path_bad_input(client, jaeger, query, code):
    jaeger.answer("/api/v3/traces", (200, {"result": {"resourceSpans": []}}))
    _error(get(client, f"/api/critical-path?{query}"), 400, code)


# -- the service map --------------------------------------------------------------------
def test_the_service_map_needs_its_metrics(client):
    response = get(client, "/api/service-map")
    error = _error(response, 503, "metrics_unavailable")
    assert "TRACELAB_SPAN_METRICS_URL" in error["message"]
    assert response.headers["Retry-After"] == "5"
    _error(get(client, "/api/service-map?window=2d"), 400, "invalid_query")


def _map_app(settings, metrics, monkeypatch, **overrides):
    monkeypatch.setenv("TRACELAB_ADMIN_TOKEN", "a-token-for-these-tests-only")
    return create_app(
        dataclasses.replace(settings, span_metrics_url=f"{metrics.url}/metrics", **overrides)
    )


def test_one_reading_of_the_metrics_is_not_a_window_yet(settings, backends, monkeypatch):
    metrics = backends[1]  # any real HTTP server will do to serve the text
    metrics.answer("/metrics", (200, text(series("frontend", "server", 10))))
    app = _map_app(settings, metrics, monkeypatch)
    response = app.test_client().get("/api/service-map", headers=HOST)
    error = _error(response, 503, "metrics_unavailable")
    assert "ask again in a few seconds" in error["message"]
    assert metrics.hits("/metrics") == 1  # the first reading was taken there and then


def test_the_service_map_from_two_readings_of_the_metrics(settings, backends, monkeypatch):
    jaeger, metrics = backends
    app = _map_app(
        settings, metrics, monkeypatch, sampler="parentbased_traceidratio", sampler_arg="0.5"
    )
    metrics.answer(
        "/metrics",
        (200, text(series("frontend", "server", 10))),
        (200, text(series("frontend", "server", 70))),
    )
    history = app.extensions[CONSOLE_KEY].metrics
    history.scrape(now=1000.0)
    history.scrape(now=1030.0)
    jaeger.answer("/api/v3/traces", (200, {"result": {"resourceSpans": []}}))
    jaeger.answer(
        "/api/dependencies", (200, {"data": [{"parent": "a", "child": "b", "callCount": 3}]})
    )
    answer = app.test_client().get("/api/service-map?window=1m", headers=HOST).get_json()
    (frontend,) = answer["services"]
    assert frontend["calls"] == 60 and frontend["rate_per_s"] == 2.0
    # No trace says how it was sampled: the console's own configuration does.
    assert frontend["sampling_probability"] == 0.5 and frontend["corrected_calls"] == 120
    assert frontend["probability_from"] == "the reader's OTEL_TRACES_SAMPLER"
    assert answer["backend_dependencies"] == [{"from": "a", "to": "b", "calls": 3}]
    assert answer["window"] == "1m" and answer["window_s"] == 30.0
    # The traces of that window were asked for.
    assert jaeger.query_of("/api/v3/traces")["query.start_time_min"].startswith("1970-01-01")


def test_the_service_map_with_the_backend_down_is_503(settings, backends, monkeypatch):
    _, metrics = backends
    metrics.answer("/metrics", (200, text(series("frontend", "server", 10))))
    closed = dataclasses.replace(settings, backends={"jaeger": _closed_url()})
    app = _map_app(closed, metrics, monkeypatch)
    history = app.extensions[CONSOLE_KEY].metrics
    history.scrape(now=1000.0)
    history.scrape(now=1030.0)
    response = app.test_client().get("/api/service-map", headers=HOST)
    assert "make up" in _error(response, 503, "backend_unavailable")["message"]
