"""The console against the real stack: its own calls never appear in the demo's traces."""

from __future__ import annotations

import time

import pytest
import requests

from tracelab.shapes.backends import JaegerClient
from tracelab.shapes.query import TraceQuery

pytestmark = pytest.mark.e2e

SERVICES = ("frontend", "gateway", "auth", "user", "db")


def test_the_consoles_own_calls_make_no_spans(stack):
    console = stack.urls["console"]
    before = time.time()
    with requests.Session() as http:
        fired = http.post(f"{console}/api/journeys/dashboard", json={"user": 9}, timeout=15)
        assert fired.status_code == 200, fired.text
        trace_id = fired.json()["trace_id"]
        # Everything else the console does: backends, services, searches, the trace, logs,
        # the admin API of every service (list, switch on, switch off).
        for path in ("/api/status", "/api/services", "/api/search?lookback=5m", "/api/scenarios"):
            assert http.get(console + path, timeout=30).status_code == 200, path
        assert http.get(f"{console}/api/trace/{trace_id}/logs", timeout=10).status_code == 200
        on = http.put(f"{console}/api/scenarios/slow-query", json={"params": {}}, timeout=10)
        assert on.status_code == 200, on.text
        assert http.delete(f"{console}/api/scenarios/slow-query", timeout=10).status_code == 200

    jaeger = JaegerClient(stack.urls["jaeger"])
    journey = jaeger.wait_for_trace(trace_id, min_spans=17, services=SERVICES, timeout=30)
    # The journey the console fired starts at the frontend: no parent, no link to the console.
    [root] = journey.roots()
    assert (root.service, root.kind, root.name) == ("frontend", "server", "GET /api/dashboard")
    assert root.parent_span_id is None and root.links == ()

    time.sleep(6)  # longer than the services' batch export interval
    assert "console" not in jaeger.services()
    for service in SERVICES:
        query = TraceQuery(service=service, start=before - 1, end=time.time(), limit=500)
        for trace in jaeger.find_traces(query):
            for span in trace:
                path = str(
                    span.attributes.get("url.path") or span.attributes.get("http.route") or ""
                )
                assert "admin" not in span.name and not path.startswith("/admin"), span.summary()


def test_console_search_and_trace_over_the_real_jaeger(stack):
    console = stack.urls["console"]
    with requests.Session() as http:
        bad = http.post(f"{console}/api/journeys/bad_token", json={}, timeout=15).json()
        good = http.post(f"{console}/api/journeys/profile", json={"user": 11}, timeout=15).json()
        assert (bad["status"], good["status"]) == (401, 200)
        jaeger = JaegerClient(stack.urls["jaeger"])
        jaeger.wait_for_trace(bad["trace_id"], services=("auth",), timeout=30)
        jaeger.wait_for_trace(good["trace_id"], min_spans=11, services=SERVICES, timeout=30)
        errors = http.get(f"{console}/api/search?errors=true&lookback=2m&limit=200", timeout=30)
        found = {t["trace_id"] for t in errors.json()["traces"]}
        assert bad["trace_id"] in found, errors.json()["notes"]
        assert good["trace_id"] not in found
        view = http.get(f"{console}/api/trace/{good['trace_id']}", timeout=15).json()
        assert view["arrival"]["complete"] and view["root"]["name"] == "GET /api/users/<user_id>"
        download = http.get(f"{console}/api/trace/{good['trace_id']}/otlp", timeout=15)
        assert download.headers["Content-Disposition"].endswith(f'trace-{good["trace_id"]}.json"')
        assert len(download.json()["resourceSpans"]) >= 4
