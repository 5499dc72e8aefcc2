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
from pathlib import Path

import pytest
import yaml

from tests.config.helpers import (
    DASHBOARDS_DIR,
    DATASOURCES_FILE,
    ROOT,
    SHARED_CONFIGS,
    compose,
    env_of,
    pod_spec,
    render_overlay,
    workloads,
)
from tests.config.promql import read
from tests.config.variants import KINDS, collector_variants, k8s_container_env
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


def k8s_env(overlay: str, kind_name: str) -> dict[str, str]:
    """Plain env values of a workload's container; references get stand-in values."""
    docs = render_overlay(overlay)
    return k8s_container_env(docs, pod_spec(workloads(docs)[kind_name])["containers"][0])


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


def test_jaeger_config_is_valid_as_compose_runs_it(binaries, tmp_path):
    env = env_of(compose()["services"]["jaeger"])
    validate(binaries["jaeger"], [SHARED_CONFIGS["jaeger"]], env, tmp_path)


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_jaeger_config_is_valid_as_kubernetes_runs_it(binaries, tmp_path, overlay):
    jaeger_configs = [SHARED_CONFIGS["jaeger"]]
    if overlay == "production":
        jaeger_configs.append(PRODUCTION / "jaeger-opensearch.yaml")
    validate(binaries["jaeger"], jaeger_configs, k8s_env(overlay, "Deployment/jaeger"), tmp_path)


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


@pytest.fixture(scope="module")
def exported(binaries, tmp_path_factory) -> Iterator[str]:
    """The collector's span-metrics page after it saw a server and a client span."""
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
    }
    log = tmp_path_factory.mktemp("otelcol") / "otelcol.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(binaries["otelcol"]), f"--config={SHARED_CONFIGS['otel-collector']}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = "http://127.0.0.1:{}".format
        wait_until(lambda: get(base(ports["OTELCOL_HEALTH_PORT"]) + "/") is not None, log)
        now = time.time_ns()
        body = {
            "resourceSpans": [
                otlp_span("frontend", kind=2, status=2, now_ns=now),  # SERVER, ERROR
                otlp_span("frontend", kind=3, status=0, now_ns=now),  # CLIENT, UNSET
            ]
        }
        request = urllib.request.Request(
            base(ports["OTELCOL_OTLP_HTTP_PORT"]) + "/v1/traces",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        metrics_url = base(ports["OTELCOL_SPANMETRICS_PORT"]) + "/metrics"
        page: list[str] = []

        def has_both_kinds() -> bool:
            text = get(metrics_url, openmetrics=True) or ""
            page[:] = [text]
            return 'span_kind="SPAN_KIND_CLIENT"' in text and "# {" in text

        wait_until(has_both_kinds, log)
        yield page[0]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


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
