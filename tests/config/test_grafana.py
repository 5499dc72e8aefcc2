"""Grafana provisioning: data source uids, links, and the RED dashboard's queries.

Every metric and label name a query uses (read with promql-parser,
tests/config/promql.py) must be one the stack exposes: the page the real
collector exported, recorded in tests/config/recorded/ and kept true by
tests/config/test_binaries.py (tests/config/exposition.py).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from services.common import telemetry
from tests.config import exposition
from tests.config.helpers import (
    DASHBOARD_PROVIDERS_FILE,
    DASHBOARDS_DIR,
    DATASOURCES_FILE,
    SHARED_CONFIGS,
    by_kind,
    compose,
    env_of,
    host_port,
    listeners,
    render_overlay,
)
from tests.config.promql import read

EXPECTED = {  # uid -> type
    "prometheus": "prometheus",
    "tempo": "tempo",
    "jaeger": "jaeger",
    "loki": "loki",
}
TRACE_UIDS = ("tempo", "jaeger")


def datasources() -> list[dict[str, Any]]:
    config = yaml.safe_load(DATASOURCES_FILE.read_text())
    assert config["apiVersion"] == 1
    return config["datasources"]


def by_uid() -> dict[str, dict[str, Any]]:
    return {source["uid"]: source for source in datasources()}


def dashboards() -> dict[str, dict[str, Any]]:
    files = sorted(DASHBOARDS_DIR.glob("*.json"))
    assert files, "no dashboard"
    return {path.name: json.loads(path.read_text()) for path in files}


# The values the span_metrics connector writes for these labels.
SPAN_KINDS = {f"SPAN_KIND_{k}" for k in ("SERVER", "CLIENT", "INTERNAL", "PRODUCER", "CONSUMER")}
STATUS_CODES = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"}
ENUMERATED = {"span_kind": SPAN_KINDS, "status_code": STATUS_CODES}


def assert_query_uses_exposed_metrics(expr: str, legend: str = "") -> None:
    """Every metric ``expr`` reads is exposed, with every label it matches or groups by."""
    exposed = exposition.exposed()
    query = read(expr, legend)
    assert query.metrics, f"no metric in {expr}"
    for metric in sorted(query.metrics):
        close = difflib.get_close_matches(metric, exposed.labels, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        assert metric in exposed.labels, f"{metric} is not exposed{hint}: {expr}"
    labels = frozenset().union(*(exposed.labels[metric] for metric in query.metrics))
    assert query.labels <= labels, f"{sorted(query.labels - labels)} are not labels of {expr}"
    # Other labels' values depend on the traffic; these are a closed set.
    for label, value in query.values:
        assert value in ENUMERATED.get(label, {value}), f"{label}={value!r} is never written"


@pytest.mark.parametrize(
    "expr",
    [
        "sum(rate(traces_span_metric_calls_total[1m]))",
        "rate(traces_span_metrics_calls_total[1m]) / rate(trace_span_metrics_calls_total[1m])",
        'sum(rate({__name__="traces_span_metrics_calls"}[1m]))',
        "sum by (servce_name) (rate(traces_span_metrics_calls_total[1m]))",
        'traces_span_metrics_calls_total{le="5"}',
        'traces_span_metrics_calls_total{status_code="ERROR"}',
        "a / on (service_name) group_left (http_rout) traces_span_metrics_calls_total",
        "sum(rate(traces_span_metrics_calls_total[1m])",
        "label_values(traces_span_metrics_calls_totl, service_name)",
    ],
)
def test_a_query_the_stack_cannot_answer_fails_the_check(expr):
    with pytest.raises((AssertionError, ValueError)):
        assert_query_uses_exposed_metrics(expr)


@pytest.mark.parametrize(
    ("expr", "legend"),
    [
        ('sum by (job) (up{job="span-metrics"})', "{{job}}"),
        ('sum(rate(tracelab_exporter_spans_total{outcome="failed"}[$__rate_interval]))', ""),
        ('{"traces_span_metrics_calls_total", span_kind="SPAN_KIND_CLIENT"}', "{{server_address}}"),
    ],
)
def test_a_query_of_what_the_stack_exposes_passes_the_check(expr, legend):
    assert_query_uses_exposed_metrics(expr, legend)


def test_the_vocabulary_reads_prometheus_3_quoted_utf8_names():
    page = '# TYPE "my.metric" counter\n{"my.metric_total", "http.route"="/a"} 3\n# EOF\n'
    assert exposition.vocabulary(page).labels == {"my.metric_total": {"http.route"}}


def test_the_recorded_span_metrics_use_the_enumerated_values():
    values = exposition.exposed().values
    for label, allowed in ENUMERATED.items():
        assert values[label] and values[label] <= allowed, label


# ----------------------------------------------------------- data sources
def test_the_data_sources_with_fixed_uids():
    sources = datasources()
    assert {s["uid"]: s["type"] for s in sources} == EXPECTED
    assert len(sources) == len(EXPECTED), "a uid appears twice"
    assert [s["uid"] for s in sources if s.get("isDefault")] == ["prometheus"]
    for source in sources:
        assert source["access"] == "proxy", source["uid"]


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def test_every_linked_uid_is_provisioned():
    uids = set(by_uid())
    links = [value for key, value in walk(datasources()) if key == "datasourceUid"]
    assert links, "no links between data sources"
    assert set(links) <= uids, f"unknown uids {set(links) - uids}"


def test_trace_to_metrics_and_service_map_links():
    sources = by_uid()
    for uid in ("tempo", "jaeger"):
        link = sources[uid]["jsonData"]["tracesToMetrics"]
        assert link["datasourceUid"] == "prometheus"
        assert {"key": "service.name", "value": "service_name"} in link["tags"]
        calls = exposition.exposed().labels["traces_span_metrics_calls_total"]
        assert {tag["value"] for tag in link["tags"]} <= calls, f"{uid}: a tag is no label"
        assert link["queries"], f"{uid}: no trace-to-metrics query"
        for query in link["queries"]:
            assert "$$__tags" in query["query"], f"{uid}: {query['name']} ignores the span's tags"
            assert_query_uses_exposed_metrics(query["query"])
        assert sources[uid]["jsonData"]["nodeGraph"]["enabled"] is True
    assert sources["tempo"]["jsonData"]["serviceMap"]["datasourceUid"] == "prometheus"
    exemplars = sources["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert exemplars == [{"name": "trace_id", "datasourceUid": "tempo"}]


# Resource attributes Loki makes index labels by default (its OTLP ingestion
# docs, distributor.otlp_config); the others become structured metadata.
LOKI_DEFAULT_INDEX_LABELS = {
    "cloud.availability_zone",
    "cloud.region",
    "container.name",
    "deployment.environment",
    "k8s.cluster.name",
    "k8s.container.name",
    "k8s.cronjob.name",
    "k8s.daemonset.name",
    "k8s.deployment.name",
    "k8s.job.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.replicaset.name",
    "k8s.statefulset.name",
    "service.instance.id",
    "service.name",
    "service.namespace",
}


def loki_trace_id() -> str:
    """Loki's name for an OTLP record's trace id: structured metadata ``trace_id``.

    The collector hands Loki the services' records unchanged (no processor
    that could rename or drop fields in the logs pipeline).
    """
    collector = yaml.safe_load(SHARED_CONFIGS["otel-collector"].read_text())
    assert collector["service"]["pipelines"]["logs"]["processors"] == ["memory_limiter", "batch"]
    return "trace_id"


def test_log_lines_link_to_their_trace_in_tempo_and_jaeger():
    trace_id = loki_trace_id()
    fields = by_uid()["loki"]["jsonData"]["derivedFields"]
    assert {field["datasourceUid"] for field in fields} == set(TRACE_UIDS)
    for field in fields:
        # A label (structured metadata) match: the trace id is not in the line.
        assert field["matcherType"] == "label"
        assert field["matcherRegex"] == trace_id
        assert field["url"] == "$${__value.raw}", "an internal link queries by the value"


@pytest.mark.parametrize("uid", TRACE_UIDS)
def test_spans_link_to_the_log_lines_of_their_trace(uid):
    trace_id = loki_trace_id()
    link = by_uid()[uid]["jsonData"]["tracesToLogsV2"]
    assert link["datasourceUid"] == "loki"
    resource = telemetry.build_resource("auth", "1.0", "compose").attributes
    for tag in link["tags"]:
        # A resource attribute of every span that Loki indexes, under Loki's name;
        # Jaeger shows no service.name among a span's tags (it is the service name).
        assert tag["key"] in resource and tag["key"] in LOKI_DEFAULT_INDEX_LABELS, tag
        assert tag["value"] == tag["key"].replace(".", "_"), tag
        if uid == "jaeger":
            assert tag["key"] != "service.name"
    assert link["customQuery"] is True
    query = link["query"]
    assert query.startswith("{$${__tags}}"), "the stream selector of the span's service"
    assert f'| {trace_id}="$${{__trace.traceId}}"' in query, "filter on the metadata, not text"
    start, end = link["spanStartTimeShift"], link["spanEndTimeShift"]
    assert start.startswith("-") and not end.startswith("-")


def test_service_map_has_the_service_graph_metrics_behind_it():
    """Grafana's service map reads Tempo's metrics-generator service-graph series."""
    tempo = yaml.safe_load(SHARED_CONFIGS["tempo"].read_text())
    processors = tempo["overrides"]["defaults"]["metrics_generator"]["processors"]
    assert "service-graphs" in processors
    assert tempo["metrics_generator"]["storage"]["remote_write"], "nothing is pushed"


def test_every_dollar_is_escaped_for_grafanas_env_expansion():
    """Grafana expands $VAR in provisioning files; a literal $ must be written $$."""
    text = DATASOURCES_FILE.read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"(?<!\$)\$(?!\$)", body.replace("$$", "")), "unescaped $"


@pytest.mark.parametrize("uid", sorted(EXPECTED))
def test_data_source_urls_reach_the_backend_in_compose_and_kubernetes(uid):
    host, port = host_port(by_uid()[uid]["url"])
    assert host == uid
    services = compose()["services"]
    assert host in services
    if uid in SHARED_CONFIGS:
        assert port in listeners(uid, env_of(services[uid])).ports
    else:
        assert (
            port == 9090
            and "--config.file=/etc/prometheus/prometheus.yml" in (services[uid]["command"])
        )
    for overlay in ("dev", "production"):
        service = by_kind(render_overlay(overlay), "Service")[host]
        assert port in {p["port"] for p in service["spec"]["ports"]}, overlay


# ---------------------------------------------------------------- dashboards
def test_dashboard_provider_loads_the_dashboards_folder():
    config = yaml.safe_load(DASHBOARD_PROVIDERS_FILE.read_text())
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/etc/grafana/dashboards"
    home = env_of(compose()["services"]["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider["options"]["path"] + "/")
    assert home.rpartition("/")[2] in dashboards()


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


@pytest.mark.parametrize("filename", sorted(dashboards()))
def test_dashboard_is_well_formed(filename):
    dashboard = dashboards()[filename]
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for panel in panels(dashboard):
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]


def test_dashboard_uids_are_unique():
    uids = [d["uid"] for d in dashboards().values()]
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize("filename", sorted(dashboards()))
def test_dashboard_data_sources_and_queries_exist(filename):
    dashboard = dashboards()[filename]
    uids = set(by_uid())
    queried = 0
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] in uids, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == panel["datasource"]["uid"], panel["title"]
            if target["datasource"]["uid"] == "prometheus":
                assert_query_uses_exposed_metrics(target["expr"], target.get("legendFormat", ""))
                queried += 1
    assert queried, "no Prometheus query"
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"]["uid"] in uids
        if variable["type"] == "query":
            assert_query_uses_exposed_metrics(variable["query"]["query"])


def test_red_dashboard_has_rate_errors_and_duration_per_service():
    red = dashboards()["tracelab-red.json"]
    repeated = [p for p in red["panels"] if p.get("repeat") == "service"]
    assert repeated, "no row repeated per service"
    titles = " ".join(p["title"].lower() for p in panels(red))
    for word in ("rate", "error", "duration"):
        assert word in titles, f"no {word} panel"
    (service,) = [v for v in red["templating"]["list"] if v["name"] == "service"]
    assert "service_name" in service["query"]["query"]
    assert service["includeAll"] and service["multi"]
    # The service graph panel reads Tempo's service map.
    graph = [p for p in panels(red) if p["type"] == "nodeGraph"]
    assert graph and graph[0]["targets"][0]["queryType"] == "serviceMap"
