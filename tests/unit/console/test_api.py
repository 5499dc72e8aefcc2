"""The console's API in-process, reading recorded backend answers served over real HTTP."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.unit.console.helpers import HOST, RECORDED, _closed_url, _error, get, one_trace
from tests.unit.shapes import samples
from tracelab.console.app import create_app


# -- the guard -------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example:8090", "127.0.0.1:9999", "", "localhost"])
def test_a_foreign_host_is_refused(client, host):
    error = _error(client.get("/api/status", headers={"Host": host}), 403, "host_not_allowed")
    assert "DNS rebinding" in error["message"]
    _error(client.get("/", headers={"Host": host}), 403, "host_not_allowed")


def test_loopback_names_and_configured_hosts_are_accepted(settings, backends):
    backends[0].answer("/api/v3/services", (200, {"services": []}))
    app = create_app(dataclasses.replace(settings, allowed_hosts=("console.lab:443",)))
    for host in ("127.0.0.1:8090", "localhost:8090", "[::1]:8090", "console.lab:443"):
        assert app.test_client().get("/api/services", headers={"Host": host}).status_code == 200


def test_health_answers_any_host(client):
    assert client.get("/healthz", headers={"Host": "10.0.0.7:8090"}).status_code == 200


def test_a_foreign_origin_cannot_fire_or_switch(client):
    for method, path in (("POST", "/api/journeys/dashboard"), ("PUT", "/api/scenarios/slow-query")):
        foreign = client.open(
            path, method=method, headers={**HOST, "Origin": "http://evil.example"}
        )
        _error(foreign, 403, "origin_not_allowed")
        hidden = client.open(path, method=method, headers={**HOST, "Sec-Fetch-Site": "cross-site"})
        _error(hidden, 403, "origin_not_allowed")


def test_the_page_and_its_policy(client):
    response = get(client, "/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert 'src="/static/vendor/chart.js/chart.umd.min.js"' in html
    assert '<option value="tempo">tempo</option>' in html
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "http" not in policy  # nothing from any other origin: no CDN


# -- traces ------------------------------------------------------------------------------
def test_trace_view_of_a_real_dashboard_trace(client, backends):
    jaeger = backends[0]
    trace_id = RECORDED["trace_ids"]["dashboard"]
    jaeger.answer(f"/api/v3/traces/{trace_id}", (200, one_trace(trace_id)))
    view = get(client, f"/api/trace/{trace_id.upper()}").get_json()
    assert view["trace_id"] == trace_id and view["span_count"] == 17
    assert view["arrival"]["complete"] is True and view["roots"] == 1
    assert [s["depth"] for s in view["spans"]].count(0) == 1
    assert view["spans"][0]["name"] == "GET /api/dashboard"
    fanout = next(s for s in view["spans"] if s["name"] == "gateway.dashboard_fanout")
    calls = [s for s in view["spans"] if s["parent_id"] == fanout["span_id"]]
    assert len(calls) == 2
    first, second = sorted(calls, key=lambda s: s["start_us"])
    assert second["start_us"] < first["start_us"] + first["duration_us"]  # they overlap
    # The path tiles the root span.
    covered = sum(seg["end_us"] - seg["start_us"] for seg in view["critical_path"])
    assert covered == pytest.approx(view["spans"][0]["duration_us"])
    assert {row["service"] for row in view["stats"]} == {
        "frontend",
        "gateway",
        "auth",
        "user",
        "db",
    }
    resource = view["resources"][view["spans"][0]["resource"]]
    assert resource["service.name"] == "frontend"
    assert view["links"] == {"jaeger": None, "grafana": None}


def test_malformed_and_unknown_trace_ids(client):
    _error(get(client, "/api/trace/not-hex"), 400, "invalid_trace_id")
    _error(get(client, "/api/trace/" + "0" * 32), 400, "invalid_trace_id")
    missing = _error(get(client, "/api/trace/" + "ab" * 16), 404, "trace_not_found")
    assert "jaeger holds no trace" in missing["message"]
    _error(get(client, "/api/trace/" + "ab" * 16 + "/otlp"), 404, "trace_not_found")


def test_otlp_download_from_tempo(client, backends):
    tempo = backends[1]
    tempo.answer(f"/api/v2/traces/{samples.TRACE_ID}", (200, samples.tempo_v2()))
    response = get(client, f"/api/trace/{samples.TRACE_ID}/otlp?backend=tempo")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="trace-{samples.TRACE_ID}.json"'
    )
    document = json.loads(response.get_data())
    spans = [s for r in document["resourceSpans"] for sc in r["scopeSpans"] for s in sc["spans"]]
    assert {s["traceId"] for s in spans} == {samples.TRACE_ID}  # hex, not Tempo's base64


def test_logs_of_a_trace_and_its_spans(client, settings):
    log = settings.log_dir / "gateway.log"
    lines = [
        {
            "time": "2026-01-01T00:00:01",
            "service": "gateway",
            "message": "b",
            "trace_id": "ab" * 16,
            "span_id": "1" * 16,
        },
        {
            "time": "2026-01-01T00:00:00",
            "service": "gateway",
            "message": "a",
            "trace_id": "ab" * 16,
        },
        {
            "time": "2026-01-01T00:00:02",
            "service": "gateway",
            "message": "other",
            "trace_id": "cd" * 16,
        },
    ]
    log.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json " + "ab" * 16 + "\n")
    answer = get(client, f"/api/trace/{'ab' * 16}/logs").get_json()
    assert answer["available"] is True
    assert [line["message"] for line in answer["lines"]] == ["a", "b"]
    assert answer["lines"][1]["span_id"] == "1" * 16


# -- search ------------------------------------------------------------------------------------
def test_search_on_jaeger(client, backends):
    backends[0].answer("/api/v3/traces", (200, RECORDED["answer"]))
    start, end = RECORDED["window"]
    answer = get(
        client,
        f"/api/search?service=frontend&errors=true&start={start * 1000:.0f}&end={end * 1000:.0f}",
    ).get_json()
    assert answer["backend"] == "jaeger"
    assert {t["trace_id"] for t in answer["traces"]} == {
        RECORDED["trace_ids"]["bad_token"],
        RECORDED["trace_ids"]["not_found"],
    }
    assert answer["scanned"] == 4 and answer["exhaustive"] is True
    assert answer["traceql"].startswith('{ resource.service.name = "frontend" }')


def test_search_on_tempo_runs_traceql(client, backends):
    tempo = backends[1]
    tempo.answer("/api/search", (200, samples.tempo_search()))
    answer = get(client, "/api/search?backend=tempo&service=frontend&min_duration=10ms").get_json()
    assert answer["query"] == '{ resource.service.name = "frontend" } && { traceDuration >= 10ms }'
    assert tempo.query_of("/api/search")["q"] == answer["query"]
    assert [t["span_count"] for t in answer["traces"]] == [3, None]


def test_bad_queries_are_400(client, backends):
    _error(get(client, "/api/search?min_duration=soon"), 400, "invalid_query")
    _error(get(client, "/api/search?q={}"), 400, "invalid_query")  # TraceQL on Jaeger
    backends[1].answer("/api/search", (400, "parse error at line 1, col 2"))
    error = _error(get(client, "/api/search?backend=tempo&q={ x"), 400, "invalid_query")
    assert "parse error" in error["message"]
    _error(get(client, "/api/search?backend=zipkin"), 400, "unknown_backend")
    _error(get(client, "/api/operations"), 400, "invalid_query")


def test_traceql_preview(client):
    answer = get(client, "/api/traceql?service=db&attributes=db.system=postgresql").get_json()
    assert answer["traceql"] == '{ resource.service.name = "db" && .db.system = "postgresql" }'


# -- a backend that is down or broken --------------------------------------------------------
def test_an_unreachable_backend_is_503_with_the_way_to_start_it(settings):
    closed = _closed_url()
    app = create_app(dataclasses.replace(settings, backends={"jaeger": closed}))
    response = app.test_client().get("/api/search", headers=HOST)
    error = _error(response, 503, "backend_unavailable")
    assert response.headers["Retry-After"] == "5"
    assert error["message"] == f"jaeger at {closed} is not answering: start it with `make up`"
    status = app.test_client().get("/api/status", headers=HOST).get_json()
    assert status["backends"] == [
        {"name": "jaeger", "url": closed, "up": False, "message": error["message"]}
    ]


def test_a_backend_answering_garbage_is_502(client, backends):
    backends[0].answer("/api/v3/services", (200, "<html>not json</html>"))
    _error(get(client, "/api/services"), 502, "backend_error")


# -- journeys and scenarios ------------------------------------------------------------------------
def test_journeys_and_their_bad_input(client):
    names = [j["name"] for j in get(client, "/api/journeys").get_json()["journeys"]]
    assert names == ["profile", "dashboard", "login", "bad_token", "not_found"]
    post = lambda path, body: client.post(path, headers=HOST, data=body)  # noqa: E731
    _error(post("/api/journeys/teleport", "{}"), 404, "unknown_journey")
    _error(post("/api/journeys/login", '{"user": 0}'), 422, "validation_failed")
    _error(post("/api/journeys/login", '{"user": true}'), 422, "validation_failed")
    _error(post("/api/journeys/login", "{nope"), 400, "malformed_json")
    _error(post("/api/journeys/login", "[1]"), 422, "validation_failed")
    _error(post("/api/journeys/login", '{"x": "' + "a" * 20000 + '"}'), 413, "payload_too_large")


def test_a_journey_with_the_frontend_down_is_503(client):
    response = client.post("/api/journeys/login", headers=HOST, data="{}")
    error = _error(response, 503, "service_unavailable")
    assert "frontend at http://127.0.0.1:" in error["message"] and "make up" in error["message"]


def test_scenarios_without_an_admin_token_say_so(client, monkeypatch):
    monkeypatch.delenv("TRACELAB_ADMIN_TOKEN")
    error = _error(get(client, "/api/scenarios"), 503, "admin_token_missing")
    assert "TRACELAB_ADMIN_TOKEN" in error["message"] and "make up" in error["message"]


def test_scenarios_with_the_services_down_are_503(client):
    _error(get(client, "/api/scenarios"), 503, "service_unavailable")
    switch = client.put("/api/scenarios/slow-query", headers=HOST, data='{"params": {}}')
    _error(switch, 503, "service_unavailable")
    _error(client.put("/api/scenarios/no-such", headers=HOST), 404, "unknown_scenario")
    bad = client.put("/api/scenarios/slow-query", headers=HOST, data='{"params": [1]}')
    _error(bad, 422, "validation_failed")
