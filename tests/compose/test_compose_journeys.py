"""The e2e trace-shape tests of tests/e2e, against the Compose stack.

The same journeys and golden shapes as the local tier; here every trace is
fetched from BOTH Jaeger and Tempo, and the metrics paths (span metrics,
Tempo's metrics-generator, Grafana's data sources) are checked end to end.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.e2e.journeys import JOURNEYS, drive, trace_id_of, wait_for_match
from tracelab.shapes.catalogue import journey_shape_path


def eventually(probe: Callable[[], object], what: str, timeout: float = 60.0) -> object:
    """Poll ``probe`` until it returns something truthy (spans and metrics come in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.5)


@pytest.mark.parametrize("journey", JOURNEYS, ids=lambda j: j.name)
def test_journey_trace_has_its_golden_shape_in_jaeger_and_tempo(
    journey, http, frontend_url, login, backends
):
    response = drive(journey, http, frontend_url, login)
    assert response.status_code == journey.expected_status, response.text
    trace_id = trace_id_of(response)
    assert set(backends) == {"jaeger", "tempo"}
    for name, client in backends.items():
        result, trace = wait_for_match(
            client, journey_shape_path(journey.name), trace_id, timeout=60.0
        )
        assert trace is not None, f"{name} never returned trace {trace_id}"
        assert result.ok, f"{journey.name} trace in {name} differs:\n{result.report()}"


def prometheus_value(http, compose_stack, query: str) -> float:
    response = http.get(
        compose_stack.url("PROMETHEUS_PORT") + "/api/v1/query", params={"query": query}, timeout=5
    )
    response.raise_for_status()
    result = response.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def test_span_metrics_reach_prometheus(http, frontend_url, login, compose_stack):
    login(6)
    query = 'sum(traces_span_metrics_calls_total{service_name="frontend"})'
    eventually(lambda: prometheus_value(http, compose_stack, query) > 0, "frontend span metrics")


def test_tempo_metrics_generator_remote_writes_the_service_graph(
    http, frontend_url, login, compose_stack
):
    user = login(7)
    http.get(f"{frontend_url}/api/dashboard", headers=user.headers, timeout=10)
    query = 'sum(traces_service_graph_request_total{client="frontend", server="gateway"})'
    eventually(lambda: prometheus_value(http, compose_stack, query) > 0, "service graph series")


@pytest.mark.parametrize("uid", ["prometheus", "tempo", "jaeger", "loki"])
def test_grafana_data_sources_answer(http, compose_stack, uid):
    url = compose_stack.url("GRAFANA_PORT") + f"/api/datasources/uid/{uid}/health"
    response = http.get(url, auth=("admin", "admin"), timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "OK", response.text


def test_a_journeys_log_lines_reach_loki_with_its_trace_id(
    http, frontend_url, login, compose_stack
):
    """Logs beside traces: the access line of each hop, found in Loki by trace id."""
    user = login(8)
    response = http.get(f"{frontend_url}/api/dashboard", headers=user.headers, timeout=10)
    trace_id = trace_id_of(response)
    query = f'{{service_name=~"frontend|gateway"}} | trace_id="{trace_id}"'

    def services_logged() -> set[str]:
        found = http.get(
            compose_stack.url("LOKI_PORT") + "/loki/api/v1/query_range",
            params={"query": query, "since": "5m", "limit": 100},
            timeout=5,
        )
        found.raise_for_status()
        return {stream["stream"]["service_name"] for stream in found.json()["data"]["result"]}

    eventually(lambda: services_logged() == {"frontend", "gateway"}, "log lines in Loki")


def test_jaegers_monitor_tab_reads_the_span_metrics(http, frontend_url, login, compose_stack):
    """Jaeger's Monitor tab: call rates from Prometheus, i.e. the collector's span metrics."""
    login(9)

    def frontend_call_rate() -> bool:
        found = http.get(
            compose_stack.url("JAEGER_UI_PORT") + "/api/metrics/calls",
            params={"service": "frontend", "spanKind": "server", "lookback": 300000},
            timeout=5,
        )
        found.raise_for_status()
        return bool(found.json().get("metrics"))

    eventually(frontend_call_rate, "span metrics in Jaeger's Monitor tab", timeout=90.0)


def test_grafana_home_is_the_red_dashboard(http, compose_stack):
    response = http.get(compose_stack.url("GRAFANA_PORT") + "/api/dashboards/home", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["dashboard"]["uid"] == "tracelab-red"
