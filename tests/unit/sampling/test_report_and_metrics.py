"""The comparison's arithmetic, metric parsing and report (no stack, no timing)."""

from __future__ import annotations

import json

from tracelab.sampling import metrics, report
from tracelab.sampling.compare import Load, StrategyResult
from tracelab.sampling.strategies import TAIL_PROCESSORS, strategies

COLLECTOR = """# HELP otelcol_exporter_sent_spans x
otelcol_exporter_sent_spans{exporter="otlp_grpc/jaeger",server_port="14317"} 120
otelcol_exporter_sent_spans{exporter="debug"} 7
"""
CALLS = "traces_span_metrics_calls_total"
SPAN_METRICS = "\n".join(
    f'{CALLS}{{service_name="{svc}",span_kind="SPAN_KIND_{kind}",'
    f'status_code="STATUS_CODE_{code}"}} {n}'
    for svc, kind, code, n in [
        ("frontend", "SERVER", "UNSET", 90),
        ("frontend", "SERVER", "ERROR", 10),
        ("frontend", "CLIENT", "UNSET", 99),
        ("db", "SERVER", "UNSET", 55),
    ]
)


def test_metrics_are_read_from_prometheus_text():
    assert metrics.exported_spans(COLLECTOR) == 120
    assert metrics.red(SPAN_METRICS) == {"calls": 100, "errors": 10}
    assert metrics.red("") == {"calls": 0, "errors": 0}


def test_strategies_select_the_sdk_and_collector_variables():
    head, rate, tail = strategies(0.1, 5, 500, 10)
    assert head.service_env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert rate.service_env == {
        "OTEL_TRACES_SAMPLER": "parentbased_ratelimiting",
        "OTEL_TRACES_SAMPLER_ARG": "5",
    }
    assert tail.collector_env["TRACES_PROCESSORS"] == TAIL_PROCESSORS
    assert tail.collector_env["TAIL_SLOW_THRESHOLD_MS"] == "500"


def test_derived_shares_and_report(tmp_path):
    result = StrategyResult("head", "ratio 0.1", 200, 10.0, 20, 10, kept=21, errors_kept=2)
    result.spans_exported, result.red_calls, result.red_errors = 400, 21, 2
    derived = result.derived
    assert derived["kept_share"] == 0.105
    assert derived["error_traces_kept_share"] == 0.1
    assert derived["slow_traces_kept_share"] == 0.0
    assert derived["spans_exported_per_s"] == 40.0
    empty = StrategyResult("tail", "t", 0, 0.0, 0, 0).derived
    assert empty["kept_share"] is None and empty["spans_exported_per_s"] is None
    document = report.build([result], Load())
    json_path, md_path = report.write(document, tmp_path)
    assert json.loads(json_path.read_text())["strategies"][0]["kept"] == 21
    text = md_path.read_text()
    assert "| head | 21/200 (10%) | 2/20 (10%) | 0/10 (0%) | 40.0 |" in text
