"""The shared configs, as Compose and Kubernetes run them, checked by the real programs.

The collector and Jaeger binaries of the local stack (``make tools``, built
from the same versions as the images) validate each config with the
environment each mode gives it, including the production overlay's merged
files. The collector is then run for a moment, fed by a service process,
to check that tests/config/recorded/span-metrics.txt (the metric and label
names the dashboards are checked against, tests/config/exposition.py) is
what it really exports.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.config import exposition
from tests.config.helpers import (
    DATASOURCES_FILE,
    ROOT,
    SHARED_CONFIGS,
    compose,
    env_of,
    k8s_env,
)
from tests.config.variants import KINDS, collector_variants
from tracelab.bench import promtext
from tracelab.stack import config as stack_config
from tracelab.stack.tools import build_tools

PRODUCTION = ROOT / "infra" / "k8s" / "overlays" / "production" / "config"
BUILDER = ROOT / "infra" / "otel-collector" / "builder.yaml"
CONTRIB = "github.com/open-telemetry/opentelemetry-collector-contrib/"
VARIANTS = collector_variants()
TIER1 = "k8s-production:Deployment/otel-collector"
# Configured (production tier 1) but not in the local build: the Go module
# proxy does not serve the module at the builder's version (docs/deploy.md).
NOT_IN_LOCAL_BUILD = {("exporters", "loadbalancing"): CONTRIB + "exporter/loadbalancingexporter"}


@pytest.fixture(scope="module")
def binaries() -> dict[str, Path]:
    """The locally built collector and Jaeger (built once, cached in .tools)."""
    return {result.name: result.binary for result in build_tools(ROOT)}


def run_validate(
    binary: Path, configs: list[Path], env: Mapping[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """``<binary> validate --config=...`` with exactly ``env`` (and a minimal PATH)."""
    return subprocess.run(
        [str(binary), "validate", *(f"--config={path}" for path in configs)],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def validate(binary: Path, configs: list[Path], env: Mapping[str, str], tmp_path: Path) -> None:
    result = run_validate(binary, configs, env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------- validation
@pytest.fixture(scope="module")
def components(binaries) -> dict[str, list[dict]]:
    """``otelcol components`` of the local build, parsed: kind -> [{name, module, ...}]."""
    result = subprocess.run(
        [str(binaries["otelcol"]), "components"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return yaml.safe_load(result.stdout)


def built(components: dict[str, list[dict]]) -> set[tuple[str, str]]:
    return {(kind, entry["name"]) for kind in KINDS for entry in components.get(kind) or []}


def builder() -> dict:
    return yaml.safe_load(BUILDER.read_text())


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_collector_loads_every_variant(binaries, components, tmp_path, name):
    """Each mode's collector files and environment, loaded by the real collector."""
    variant = VARIANTS[name]
    missing = variant.components() - built(components)
    if not missing:
        validate(binaries["otelcol"], variant.write(tmp_path), variant.env, tmp_path)
        return
    # Only what the docs name as absent from the local build may be missing,
    # and then the collector must refuse the files for exactly that reason.
    assert missing <= set(NOT_IN_LOCAL_BUILD), (
        f"{name} uses {sorted(missing)}, which builder.yaml does not build: add them"
    )
    result = run_validate(binaries["otelcol"], variant.write(tmp_path), variant.env, tmp_path)
    assert result.returncode != 0
    for kind, component in missing:
        assert f"'{kind}' unknown type: \"{component}\"" in result.stderr, result.stderr


def test_production_tier1_is_not_validated_locally_and_the_docs_say_so(components):
    """The loadbalancing exporter's module is not served at the builder's version:
    tier 1's extra file is never loaded by a real collector here, and the docs say so."""
    tier1 = VARIANTS[TIER1]
    modules = {entry["gomod"].split()[0] for kind in KINDS for entry in builder().get(kind) or []}
    docs = " ".join((ROOT / "docs" / "deploy.md").read_text().split())
    for (kind, component), module in NOT_IN_LOCAL_BUILD.items():
        assert (kind, component) in tier1.components()
        assert (kind, component) not in built(components), (
            f"the local build has {component} now: drop it from NOT_IN_LOCAL_BUILD and "
            "docs/deploy.md, and tier 1 is validated like the other variants"
        )
        assert module not in modules
        assert f"`{module}@v{builder()['dist']['version']}` is not served" in docs
    assert "tier 1 is not validated by a real collector here" in docs


def test_collector_builds_exactly_the_components_the_configs_use(components):
    """What the binary reports (``otelcol components``) is what the variants configure,
    less the documented absentees, and comes from exactly builder.yaml's modules."""
    configured = set().union(*(variant.components() for variant in VARIANTS.values()))
    expected = configured - set(NOT_IN_LOCAL_BUILD)
    have = built(components)
    assert have == expected, (
        f"built but configured nowhere: {sorted(have - expected)}; "
        f"configured but not built: {sorted(expected - have)}"
    )
    reported = {entry["module"] for kind in KINDS for entry in components.get(kind) or []}
    manifest = {entry["gomod"] for kind in KINDS for entry in builder().get(kind) or []}
    assert reported == manifest
    version = builder()["dist"]["version"]
    assert components["buildinfo"]["version"] == version
    image_tag = compose()["services"]["otel-collector"]["image"].rpartition(":")[2]
    assert version == image_tag, "the local build and the images run one version"


def test_collector_builds_exactly_the_config_providers_the_configs_use(components):
    """No builder default the configs never use (http, https, yaml): less to compile."""
    used = set().union(*(variant.providers() for variant in VARIANTS.values()))
    assert {provider["scheme"] for provider in components["providers"]} == used


def test_jaeger_config_is_valid_as_compose_runs_it(binaries, tmp_path):
    env = env_of(compose()["services"]["jaeger"])
    validate(binaries["jaeger"], [SHARED_CONFIGS["jaeger"]], env, tmp_path)


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_jaeger_config_is_valid_as_kubernetes_runs_it(binaries, tmp_path, overlay):
    jaeger_configs = [SHARED_CONFIGS["jaeger"]]
    if overlay == "production":
        jaeger_configs.append(PRODUCTION / "jaeger-opensearch.yaml")
    validate(binaries["jaeger"], jaeger_configs, k8s_env(overlay, "Deployment/jaeger"), tmp_path)


def test_jaeger_config_is_valid_as_the_local_stack_runs_it(binaries, tmp_path):
    env = stack_config.jaeger_env(stack_config.resolve_ports({}), {})
    validate(binaries["jaeger"], [SHARED_CONFIGS["jaeger"]], env, tmp_path)


def jaeger_print_config(binary: Path, configs: list[Path], env: Mapping[str, str], cwd: Path):
    """The configuration Jaeger itself makes of ``configs`` merged in order, as YAML data."""
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
    configs = [SHARED_CONFIGS["jaeger"], PRODUCTION / "jaeger-opensearch.yaml"]
    merged = jaeger_print_config(binaries["jaeger"], configs, env, tmp_path)
    storage = merged["extensions"]["jaeger_query"]["storage"]["traces"]
    assert merged["exporters"]["jaeger_storage_exporter"]["trace_storage"] == storage
    backend = merged["extensions"]["jaeger_storage"]["backends"][storage]
    assert backend["opensearch"]["server_urls"] == [env["OPENSEARCH_URL"]]


# ----------------------------------------- Jaeger -> OpenSearch over TLS
DEMO_NODE_NAME = "node-0.example.com"


def openssl(command: str, cwd: Path) -> None:
    subprocess.run(["openssl", *command.split()], cwd=cwd, check=True, capture_output=True)


def demo_like_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate naming only the demo node, like the chart's."""
    key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
    openssl(f"req -x509 {key} -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca", directory)
    openssl(f"req {key} -keyout node.key -out node.csr -subj /CN={DEMO_NODE_NAME}", directory)
    (directory / "node.ext").write_text(
        f"subjectAltName=DNS:{DEMO_NODE_NAME}\nextendedKeyUsage=serverAuth\n"
    )
    openssl(
        "x509 -req -in node.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2"
        " -extfile node.ext -out node.crt",
        directory,
    )
    return directory / "ca.crt", directory / "node.crt", directory / "node.key"


class TLSEndpoint:
    """An https port that records each client's handshake; it serves nothing else.

    It stands in for OpenSearch's TLS layer only: whether Jaeger's client
    trusts the certificate is decided in the handshake, before any request.
    """

    def __init__(self, certificate: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certificate, key)
        self.server_names: list[str | None] = []
        self.context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
        self.accepted: list[str] = []
        self.refused: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.5)
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            raw.settimeout(5)
            try:
                with self.context.wrap_socket(raw, server_side=True) as conn:
                    self.accepted.append(conn.version() or "")
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            except (ssl.SSLError, OSError) as error:
                self.refused.append(str(error))
                raw.close()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.listener.close()


def test_production_jaeger_trusts_opensearch_through_the_mounted_ca(binaries, tmp_path):
    """The real Jaeger, with the production files and env, completes the TLS handshake."""
    ca, certificate, key = demo_like_certificates(tmp_path)
    endpoint = TLSEndpoint(certificate, key)
    ports = ("QUERY", "QUERY_GRPC", "OTLP_GRPC", "OTLP_HTTP", "HEALTH", "METRICS")
    env = {
        **k8s_env("production", "Deployment/jaeger"),
        "PATH": "/usr/bin:/bin",
        "JAEGER_BIND_HOST": "127.0.0.1",
        **{f"JAEGER_{name}_PORT": str(free_port()) for name in ports},
        # Reached by IP, which the certificate does not name: like the cluster's
        # Service name, only the server-name override makes it verify.
        "OPENSEARCH_URL": f"https://127.0.0.1:{endpoint.port}",
        "OPENSEARCH_CA_FILE": str(ca),
    }
    log = tmp_path / "jaeger.log"
    configs = [SHARED_CONFIGS["jaeger"], PRODUCTION / "jaeger-opensearch.yaml"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(binaries["jaeger"]), *(f"--config={path}" for path in configs)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not (endpoint.accepted or endpoint.refused) and process.poll() is None:
            assert time.monotonic() < deadline, "Jaeger never connected:\n" + log.read_text()
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        endpoint.close()
    output = log.read_text()
    assert "failed to load TLS config" not in output, output[-3000:]
    assert endpoint.accepted and not endpoint.refused, (endpoint.refused, output[-3000:])
    assert "x509" not in output, output[-3000:]
    assert set(endpoint.server_names) == {DEMO_NODE_NAME}


# ------------------------------------------------- the exported vocabulary
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# A service process with the services' own telemetry set-up: its spans feed the
# span_metrics connector, its span and log record loss counters (it logs a
# line, exported over OTLP logs) reach the same exporter.
SERVICE = """
import logging

from opentelemetry import trace
from services.common import telemetry

telemetry.init("frontend")
tracer = telemetry.tracer("tests.config")
server = {
    "http.request.method": "GET",
    "http.route": "/api/dashboard",
    "http.response.status_code": 500,
}
client = {
    "http.request.method": "GET",
    "http.response.status_code": 500,
    "server.address": "gateway",
    "server.port": 8081,
}
with tracer.start_as_current_span(
    "GET /api/dashboard", kind=trace.SpanKind.SERVER, attributes=server
) as span:
    span.set_status(trace.StatusCode.ERROR)
    with tracer.start_as_current_span("GET", kind=trace.SpanKind.CLIENT, attributes=client):
        logging.getLogger("tests.config").warning("a line for the log export")
telemetry.shutdown()
"""


COLLECTOR_PORTS = (
    "OTELCOL_OTLP_GRPC_PORT",
    "OTELCOL_OTLP_HTTP_PORT",
    "OTELCOL_SPANMETRICS_PORT",
    "OTELCOL_HEALTH_PORT",
    "OTELCOL_METRICS_PORT",
)


@contextmanager
def shared_collector(
    binary: Path, work: Path, env: Mapping[str, str] | None = None
) -> Iterator[tuple[dict[str, int], Path]]:
    """The real collector on the shared config, on free ports, until the block ends.

    Yields its ports (by variable) and its log, once its health check answers.
    """
    ports = {name: free_port() for name in COLLECTOR_PORTS}
    environ = {
        "PATH": "/usr/bin:/bin",
        # Its own queue: the default directory may be locked by another collector.
        "OTELCOL_QUEUE_DIR": str(work / "queue"),
        # Nothing listens there: the trace export fails quietly, metrics do not care.
        "JAEGER_OTLP_ENDPOINT": f"127.0.0.1:{free_port()}",
        **(env or {}),
        **{name: str(port) for name, port in ports.items()},
    }
    log = work / "otelcol.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(binary), f"--config={SHARED_CONFIGS['otel-collector']}"],
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        health = f"http://127.0.0.1:{ports['OTELCOL_HEALTH_PORT']}/"
        wait_until(lambda: get(health) is not None, log)
        yield ports, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def exported(binaries, tmp_path_factory) -> Iterator[str]:
    """The collector's Prometheus page (OpenMetrics) after a service process sent it spans."""
    work = tmp_path_factory.mktemp("otelcol")
    with shared_collector(binaries["otelcol"], work, {"OTELCOL_BIND_HOST": "127.0.0.1"}) as (
        ports,
        log,
    ):
        base = "http://127.0.0.1:{}".format
        service = subprocess.run(
            [sys.executable, "-c", SERVICE],
            env={
                "PATH": "/usr/bin:/bin",
                "PYTHONPATH": str(ROOT),
                "OTEL_EXPORTER_OTLP_ENDPOINT": base(ports["OTELCOL_OTLP_HTTP_PORT"]),
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert service.returncode == 0, service.stderr
        metrics_url = base(ports["OTELCOL_SPANMETRICS_PORT"]) + "/metrics"
        page: list[str] = []

        def has_it_all() -> bool:
            text = get(metrics_url, openmetrics=True) or ""
            page[:] = [text]
            spans = 'span_kind="SPAN_KIND_CLIENT"' in text and "# {" in text
            loss = 'otel_scope_name="services.common.span_loss"' in text
            return spans and loss and "tracelab_exporter_log_records_total{" in text

        wait_until(has_it_all, log)
        yield page[0]


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


def test_the_recorded_exposition_is_what_the_collector_exports(exported):
    """tests/config/exposition.py's recording still has the real page's names."""
    if os.environ.get("TRACELAB_RECORD") == "1":
        exposition.RECORDED.write_text(exported, encoding="utf-8")
    live, recorded = (
        exposition.vocabulary(exported),
        exposition.vocabulary(exposition.RECORDED.read_text(encoding="utf-8")),
    )
    assert dict(recorded.labels) == dict(live.labels), (
        f"{exposition.RECORDED} is stale: record it again with TRACELAB_RECORD=1"
    )


def test_the_services_count_spans_and_log_records_on_the_page(exported):
    """Both signals' loss counters reach Prometheus, told apart (docs/telemetry.md)."""
    samples = promtext.parse(exported, openmetrics=True)

    def value(name: str, **labels: str) -> float:
        return promtext.total(
            [s for s in samples if all(s[1].get(k) == v for k, v in labels.items())], name
        )

    assert value("tracelab_exporter_spans", job="frontend", outcome="exported") == 2
    assert value("tracelab_exporter_log_records", job="frontend", outcome="exported") >= 1
    for signal in ("traces", "logs"):
        assert value("tracelab_exporter_exports", signal=signal, outcome="exported") >= 1
    assert value("otel_sdk_processor_log_queue_capacity", job="frontend") == 2048


def test_exemplars_carry_the_trace_id_label_grafana_links(exported):
    datasources = yaml.safe_load(DATASOURCES_FILE.read_text())["datasources"]
    (prometheus,) = [s for s in datasources if s["uid"] == "prometheus"]
    (destination,) = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    found = promtext.exemplars(exported)
    assert found, "no exemplar on the span metrics"
    assert all(destination["name"] in labels for _, labels in found)


def test_the_logs_pipeline_takes_log_records_with_the_local_defaults(binaries, tmp_path):
    """The shared config's logs pipeline (LOGS_EXPORTERS=[debug] locally) takes a record."""
    with shared_collector(binaries["otelcol"], tmp_path) as (ports, log):
        record = {
            "body": {"stringValue": "GET /api/dashboard -> 200"},
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": "0000000000000002",
        }
        resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "auth"}}]}
        body = {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [record]}]}]}
        request = urllib.request.Request(
            f"http://127.0.0.1:{ports['OTELCOL_OTLP_HTTP_PORT']}/v1/logs",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        wait_until(lambda: '"log records": 1' in log.read_text(), log)
