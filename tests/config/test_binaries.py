"""The shared configs, as Compose and Kubernetes run them, checked by the real programs.

The collector and Jaeger binaries of the local stack (``make tools``, built
from the same versions as the images) validate each config with the
environment each mode gives it, including the production overlay's merged
files. The collector is then run for a moment to record the span-metric
names and labels it really exports, which the dashboard must use.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.config.helpers import (
    DASHBOARDS_DIR,
    DATASOURCES_FILE,
    ROOT,
    SHARED_CONFIGS,
    compose,
    configmap_for,
    container_env,
    env_of,
    pod_spec,
    render_overlay,
    workloads,
)
from tests.config.promql import read
from tracelab.stack import config as stack_config
from tracelab.stack.tools import build_tools

PRODUCTION = ROOT / "infra" / "k8s" / "overlays" / "production" / "config"
BUILDER = ROOT / "infra" / "otel-collector" / "builder.yaml"
CORE = "go.opentelemetry.io/collector/"
CONTRIB = "github.com/open-telemetry/opentelemetry-collector-contrib/"


@pytest.fixture(scope="module")
def binaries() -> dict[str, Path]:
    """The locally built collector and Jaeger (built once, cached in .tools)."""
    return {result.name: result.binary for result in build_tools(ROOT)}


def validate(binary: Path, configs: list[Path], env: Mapping[str, str], tmp_path: Path) -> None:
    result = subprocess.run(
        [str(binary), "validate", *(f"--config={path}" for path in configs)],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def k8s_env(overlay: str, kind_name: str) -> dict[str, str]:
    """Plain env values of a workload's container; references get stand-in values."""
    docs = render_overlay(overlay)
    container = pod_spec(workloads(docs)[kind_name])["containers"][0]
    env = {}
    for name, value in container_env(container).items():
        if isinstance(value, str):
            env[name] = value
        elif "configMapKeyRef" in value:
            ref = value["configMapKeyRef"]
            env[name] = configmap_for(docs, ref["name"])["data"][ref["key"]]
        else:
            env[name] = f"stand-in-{name.lower()}"
    return env


# ------------------------------------------------------------- validation
def test_collector_config_is_valid_as_compose_runs_it(binaries, tmp_path):
    env = env_of(compose()["services"]["otel-collector"])
    validate(binaries["otelcol"], [SHARED_CONFIGS["otel-collector"]], env, tmp_path)


def test_jaeger_config_is_valid_as_compose_runs_it(binaries, tmp_path):
    env = env_of(compose()["services"]["jaeger"])
    validate(binaries["jaeger"], [SHARED_CONFIGS["jaeger"]], env, tmp_path)


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_configs_are_valid_as_kubernetes_runs_them(binaries, tmp_path, overlay):
    if overlay == "dev":
        validate(
            binaries["otelcol"],
            [SHARED_CONFIGS["otel-collector"]],
            k8s_env(overlay, "Deployment/otel-collector"),
            tmp_path,
        )
    # Tier 2 of production: the shared file plus tail sampling.
    else:
        validate(
            binaries["otelcol"],
            [SHARED_CONFIGS["otel-collector"], PRODUCTION / "collector-tail-sampling.yaml"],
            k8s_env(overlay, "Deployment/otel-collector-sampler"),
            tmp_path,
        )
    jaeger_configs = [SHARED_CONFIGS["jaeger"]]
    if overlay == "production":
        jaeger_configs.append(PRODUCTION / "jaeger-opensearch.yaml")
    validate(binaries["jaeger"], jaeger_configs, k8s_env(overlay, "Deployment/jaeger"), tmp_path)


def test_configs_are_valid_as_the_local_stack_runs_them(binaries, tmp_path):
    """Local defaults: logs to `debug`, Jaeger's Monitor tab off (no Prometheus)."""
    ports = stack_config.resolve_ports({})
    collector = stack_config.collector_env(ports, {}, tmp_path / "queue")
    validate(binaries["otelcol"], [SHARED_CONFIGS["otel-collector"]], collector, tmp_path)
    jaeger = stack_config.jaeger_env(ports, {})
    validate(binaries["jaeger"], [SHARED_CONFIGS["jaeger"]], jaeger, tmp_path)


def jaeger_print_config(binary: Path, configs: list[Path], env: Mapping[str, str], cwd: Path):
    result = subprocess.run(
        [str(binary), "print-config", *(f"--config={path}" for path in configs)],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.mark.parametrize("mode", ["local", "compose", "dev", "production"])
def test_jaegers_monitor_tab_as_each_mode_runs_it(binaries, tmp_path, mode):
    """What Jaeger itself makes of the file: metrics storage on, a Prometheus backend."""
    configs = [SHARED_CONFIGS["jaeger"]]
    if mode == "local":
        env = stack_config.jaeger_env(stack_config.resolve_ports({}), {})
    elif mode == "compose":
        env = env_of(compose()["services"]["jaeger"])
    else:
        env = k8s_env(mode, "Deployment/jaeger")
        if mode == "production":
            configs.append(PRODUCTION / "jaeger-opensearch.yaml")
    merged = jaeger_print_config(binaries["jaeger"], configs, env, tmp_path)
    metrics = merged["extensions"]["jaeger_query"]["storage"].get("metrics")
    if mode == "local":
        assert not metrics, "no Prometheus locally: the Monitor tab stays off"
        return
    backend = merged["extensions"]["jaeger_storage"]["metric_backends"][metrics]["prometheus"]
    assert backend["endpoint"] == "http://prometheus:9090"
    assert backend["normalize_calls"] is True and backend["normalize_duration"] is True


def test_production_jaeger_merge_switches_storage_to_opensearch(binaries, tmp_path):
    env = k8s_env("production", "Deployment/jaeger")
    result = subprocess.run(
        [
            str(binaries["jaeger"]),
            "print-config",
            f"--config={SHARED_CONFIGS['jaeger']}",
            f"--config={PRODUCTION / 'jaeger-opensearch.yaml'}",
        ],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    merged = yaml.safe_load(result.stdout)
    storage = merged["extensions"]["jaeger_query"]["storage"]["traces"]
    assert merged["exporters"]["jaeger_storage_exporter"]["trace_storage"] == storage
    backend = merged["extensions"]["jaeger_storage"]["backends"][storage]
    assert backend["opensearch"]["server_urls"] == [env["OPENSEARCH_URL"]]


def test_collector_uses_only_components_of_both_builds():
    """The local build's components are core or contrib modules of the image's version."""
    builder = yaml.safe_load(BUILDER.read_text())
    version = "v" + builder["dist"]["version"]
    image_tag = compose()["services"]["otel-collector"]["image"].rpartition(":")[2]
    assert builder["dist"]["version"] == image_tag
    for kind in ("receivers", "processors", "exporters", "connectors", "extensions"):
        for component in builder.get(kind, []):
            module, _, module_version = component["gomod"].partition(" ")
            assert module.startswith((CORE, CONTRIB)), f"{module} is in neither distribution"
            assert module_version == version, module


# ------------------------------------------------- the exported vocabulary
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def otlp_span(service: str, kind: int, status: int, now_ns: int) -> dict:
    attributes = [
        {"key": "http.request.method", "value": {"stringValue": "GET"}},
        {"key": "http.route", "value": {"stringValue": "/api/dashboard"}},
        {"key": "http.response.status_code", "value": {"intValue": 500}},
    ]
    return {
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [
            {
                "scope": {"name": "tests.config"},
                "spans": [
                    {
                        "traceId": "5b8efff798038103d269b633813fc60c",
                        "spanId": f"{kind:016x}",
                        "name": "GET /api/dashboard",
                        "kind": kind,
                        "startTimeUnixNano": str(now_ns - 20_000_000),
                        "endTimeUnixNano": str(now_ns),
                        "attributes": attributes,
                        "status": {"code": status},
                    }
                ],
            }
        ],
    }


@contextmanager
def running_collector(binary: Path, log: Path, extra_env: Mapping[str, str]) -> Iterator[dict]:
    """The collector on free ports with the shared config, until the block ends."""
    ports = {
        name: free_port()
        for name in (
            "OTELCOL_OTLP_GRPC_PORT",
            "OTELCOL_OTLP_HTTP_PORT",
            "OTELCOL_SPANMETRICS_PORT",
            "OTELCOL_HEALTH_PORT",
            "OTELCOL_METRICS_PORT",
        )
    }
    env = {
        "PATH": "/usr/bin:/bin",
        "OTELCOL_BIND_HOST": "127.0.0.1",
        # Nothing listens there: the trace export fails quietly, metrics do not care.
        "JAEGER_OTLP_ENDPOINT": f"127.0.0.1:{free_port()}",
        **{name: str(port) for name, port in ports.items()},
        **extra_env,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(binary), f"--config={SHARED_CONFIGS['otel-collector']}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        health = f"http://127.0.0.1:{ports['OTELCOL_HEALTH_PORT']}/"
        wait_until(lambda: get(health) is not None, log)
        yield ports
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def post_json(url: str, body: dict) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


@pytest.fixture(scope="module")
def exported(binaries, tmp_path_factory) -> Iterator[str]:
    """The collector's span-metrics page after it saw a server and a client span."""
    log = tmp_path_factory.mktemp("otelcol") / "otelcol.log"
    with running_collector(binaries["otelcol"], log, {}) as ports:
        base = "http://127.0.0.1:{}".format
        now = time.time_ns()
        body = {
            "resourceSpans": [
                otlp_span("frontend", kind=2, status=2, now_ns=now),  # SERVER, ERROR
                otlp_span("frontend", kind=3, status=0, now_ns=now),  # CLIENT, UNSET
            ]
        }
        post_json(base(ports["OTELCOL_OTLP_HTTP_PORT"]) + "/v1/traces", body)
        metrics_url = base(ports["OTELCOL_SPANMETRICS_PORT"]) + "/metrics"
        page: list[str] = []

        def has_both_kinds() -> bool:
            text = get(metrics_url, openmetrics=True) or ""
            page[:] = [text]
            return 'span_kind="SPAN_KIND_CLIENT"' in text and "# {" in text

        wait_until(has_both_kinds, log)
        yield page[0]


def test_the_logs_pipeline_takes_log_records_as_the_local_stack_runs_it(binaries, tmp_path):
    """The shared config's logs pipeline, local defaults (LOGS_EXPORTERS=[debug])."""
    log = tmp_path / "otelcol.log"
    queue = {"OTELCOL_QUEUE_DIR": str(tmp_path / "queue")}
    with running_collector(binaries["otelcol"], log, queue) as ports:
        record = {
            "body": {"stringValue": "GET /api/dashboard -> 200"},
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": "0000000000000002",
        }
        body = {
            "resourceLogs": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": "auth"}}]
                    },
                    "scopeLogs": [{"logRecords": [record]}],
                }
            ]
        }
        post_json(f"http://127.0.0.1:{ports['OTELCOL_OTLP_HTTP_PORT']}/v1/logs", body)
        wait_until(lambda: '"log records": 1' in log.read_text(), log)


def get(url: str, openmetrics: bool = False) -> str | None:
    headers = {"Accept": "application/openmetrics-text"} if openmetrics else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2) as r:
            return r.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def wait_until(condition, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "collector never got there:\n" + log.read_text()[-3000:]
        time.sleep(0.2)


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def vocabulary(page: str) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    names, labels, values = set(), set(), set()
    for line in page.splitlines():
        match = _SAMPLE.match(line)
        if match:
            names.add(match.group(1))
            pairs = _LABEL.findall(match.group(2))
            labels |= {label for label, _ in pairs}
            values |= set(pairs)
    return names, labels, values


def queries() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    datasources = yaml.safe_load(DATASOURCES_FILE.read_text())["datasources"]
    for source in datasources:
        for query in source.get("jsonData", {}).get("tracesToMetrics", {}).get("queries", []):
            found.append((query["query"], ""))
    for path in DASHBOARDS_DIR.glob("*.json"):
        dashboard = json.loads(path.read_text())
        stack = list(dashboard["panels"])
        while stack:
            panel = stack.pop()
            stack += panel.get("panels", [])
            for target in panel.get("targets", []):
                if "expr" in target:
                    found.append((target["expr"], target.get("legendFormat", "")))
        for variable in dashboard["templating"]["list"]:
            found.append((variable["query"]["query"], ""))
    return found


def test_dashboards_query_what_the_collector_exports(exported):
    names, labels, values = vocabulary(exported)
    checked = queries()
    assert checked
    for expr, legend in checked:
        query = read(expr, legend)
        assert query.metrics <= names, f"{sorted(query.metrics - names)} not exported"
        assert query.labels <= labels, f"{sorted(query.labels - labels)} not exported"
        assert query.values <= values, f"{sorted(query.values - values)} never exported"


def test_exemplars_carry_the_trace_id_label_grafana_links(exported):
    datasources = yaml.safe_load(DATASOURCES_FILE.read_text())["datasources"]
    (prometheus,) = [s for s in datasources if s["uid"] == "prometheus"]
    (destination,) = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    exemplar = re.search(r"# \{([^}]*)\}", exported)
    assert exemplar, "no exemplar on the duration histogram"
    assert destination["name"] in dict(_LABEL.findall(exemplar.group(1)))
