"""``tracelab analyze|compare|critical-path|service-map`` against recorded answers over HTTP."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.unit.analysis.test_service_map import series, text
from tests.unit.console.helpers import RECORDED, _closed_url, one_trace
from tests.unit.shapes.fake_backend import serve
from tracelab.analysis.cli import analyze, compare, critical_path, service_map_command

DASHBOARD = RECORDED["trace_ids"]["dashboard"]
LOGIN = RECORDED["trace_ids"]["login"]


@pytest.fixture
def jaeger():
    with serve() as backend:
        for trace_id in (DASHBOARD, LOGIN):
            backend.answer(f"/api/v3/traces/{trace_id}", (200, one_trace(trace_id)))
        yield backend


def run(command, *args):
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


def test_analyze_prints_findings_and_the_same_document_as_json(jaeger):
    summary = run(analyze, "--trace-id", DASHBOARD, "--url", jaeger.url)
    assert summary.exit_code == 0
    assert summary.output.strip() == f"trace {DASHBOARD}: 0 finding(s)"
    lowered = run(
        analyze,
        "--trace-id",
        DASHBOARD,
        "--url",
        jaeger.url,
        "--json",
        "--threshold",
        "dominating_share=0.1",
        "--threshold",
        "dominating_min_ms=1",
    )
    document = json.loads(lowered.output)
    assert [f["kind"] for f in document["findings"]] == ["dominating-span"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trace-id", "nothex"], "trace id"),
        (["--trace-id", DASHBOARD, "--threshold", "nope"], "threshold 'nope' is not key=value"),
        (["--trace-id", DASHBOARD, "--threshold", "no_such=1"], "no_such"),
    ],
)
def test_analyze_bad_input_is_one_line_and_exit_2(jaeger, args, message):
    result = CliRunner().invoke(analyze, [*args, "--url", jaeger.url, "--wait", "0"])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and message in result.output
    assert "Traceback" not in result.output


def test_analyze_with_the_backend_down_says_so(jaeger):
    result = CliRunner().invoke(
        analyze, ["--trace-id", DASHBOARD, "--url", _closed_url(), "--wait", "0"]
    )
    assert result.exit_code == 2 and "error:" in result.output


def test_compare_two_traces(jaeger):
    result = run(compare, DASHBOARD, LOGIN, "--url", jaeger.url, "--json")
    document = json.loads(result.output)
    assert document["a"]["trace_id"] == DASHBOARD and document["b"]["trace_id"] == LOGIN
    assert document["only_a"] and document["only_b"]
    readable = run(compare, DASHBOARD, DASHBOARD, "--url", jaeger.url)
    assert "latency +0.0 ms" in readable.output


def test_critical_path_over_recorded_dashboards(jaeger):
    jaeger.answer("/api/v3/traces", (200, RECORDED["answer"]))
    result = run(critical_path, "--journey", "dashboard", "--url", jaeger.url, "--lookback", "1h")
    assert result.exit_code == 0
    assert result.output.startswith("1 dashboard trace(s): p50 19.8 ms")
    assert {line.split()[0] for line in result.output.splitlines()[2:]} == {
        "frontend",
        "gateway",
        "auth",
        "user",
        "db",
    }
    bad = CliRunner().invoke(critical_path, ["--journey", "dashboard", "--lookback", "soon"])
    assert bad.exit_code == 2 and "lookback" in bad.output


def test_service_map_measures_over_the_time_asked(jaeger):
    with serve() as metrics:
        metrics.answer(
            "/metrics",
            (200, text(series("frontend", "server", 10))),
            (200, text(series("frontend", "server", 16))),
        )
        jaeger.answer("/api/v3/traces", (200, {"result": {"resourceSpans": []}}))
        jaeger.answer("/api/dependencies", (200, {"data": []}))
        args = ["--over", "200ms", "--metrics-url", f"{metrics.url}/metrics", "--url", jaeger.url]
        document = json.loads(run(service_map_command, *args, "--json").output)
        (frontend,) = document["services"]
        assert frontend["calls"] == 6 and frontend["corrected_calls"] == 6
        assert metrics.hits("/metrics") == 2
        readable = run(service_map_command, *args)
        assert "frontend" in readable.output and "corrected" in readable.output


def test_service_map_without_metrics_says_where_it_looked():
    result = CliRunner().invoke(service_map_command, ["--metrics-url", _closed_url() + "/metrics"])
    assert result.exit_code == 2
    assert "could not be read" in result.output and "Traceback" not in result.output
