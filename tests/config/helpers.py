"""Shared readers for the offline checks of the Compose and Kubernetes configs.

Nothing here needs a Docker engine or a cluster: the files are parsed, the
variable references they contain are expanded the way their programs expand
them, and ``kubectl kustomize`` renders the overlays.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tracelab.stack import config as stack
from tracelab.stack.component import HttpProbe, PythonModule

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_FILE = ROOT / ".env"
K8S_DIR = ROOT / "infra" / "k8s"
# The base (infra/kustomization.yaml, beside the shared configs) and where the
# overlays really are: infra/k8s/overlays/<name> link to deploy/k8s/<name>.
K8S_BASE = ROOT / "infra"
OVERLAY_DIRS = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "production")
# The Kubernetes version the manifests are validated against (offline
# schemas shipped by kubernetes-validate, strict: unknown fields fail).
KUBERNETES_VERSION = "1.34.0"

# The config files the local stack runs with (its component table); Compose and
# Kubernetes must use these very files. Tempo and Loki are not run locally (see
# the README), but each is one file for Compose and Kubernetes all the same.
SHARED_CONFIGS = {
    **{name: ROOT / path for name, path in stack.INFRA_CONFIGS.items()},
    "tempo": ROOT / "infra" / "tempo" / "tempo.yaml",
    "loki": ROOT / "infra" / "loki" / "loki.yaml",
}
# Started with -config.expand-env=true: envsubst-style ${VAR:-default}.
ENVSUBST_CONFIGS = {"tempo", "loki"}
PROMETHEUS_CONFIG = ROOT / "infra" / "prometheus" / "prometheus.yml"
GRAFANA_DIR = ROOT / "infra" / "grafana"
DATASOURCES_FILE = GRAFANA_DIR / "provisioning" / "datasources" / "datasources.yaml"
DASHBOARD_PROVIDERS_FILE = GRAFANA_DIR / "provisioning" / "dashboards" / "tracelab.yaml"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"

# The five services and the port each listens on, from the local stack's table:
# every mode runs them on the same ports.
SERVICE_PORTS = {name: stack.default_port(name) for name in stack.SERVICES}
CONSOLE_PORT = stack.default_port(stack.CONSOLE)
SPAN_METRICS_PORT = stack.PORT_SPECS["collector_spanmetrics"].default
JAEGER_QUERY_PORT = stack.PORT_SPECS["jaeger_query"].default


def readiness_path(name: str) -> str:
    """The path the local stack polls for ``name`` to be ready (``/readyz``)."""
    (probe,) = stack.BY_NAME[name].ready
    assert isinstance(probe, HttpProbe), f"{name} is not probed over HTTP"
    return probe.path


def python_module(name: str) -> str:
    """The module the local stack runs ``name`` as (``python -m <module>``)."""
    command = stack.BY_NAME[name].command
    assert isinstance(command, PythonModule), f"{name} is not a Python module"
    return command.module


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$")
_COMPOSE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
}
_K8S_UNITS = {
    "": 1,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "K": 1000,
    "k": 1000,
    "M": 1000**2,
    "G": 1000**3,
}


def tool(name: str) -> str:
    """Path of a console script installed next to the running Python, or on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    assert found, f"{name} is not installed (uv sync installs it from the dev group)"
    return found


# --------------------------------------------------------------------- .env
def parse_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a dotenv file (no quotes, no expansion: ours has none)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and key.isidentifier(), f"{path.name}:{number} is not KEY=VALUE: {raw!r}"
        assert key not in values, f"{path.name}:{number} sets {key} twice"
        assert not value.startswith(("'", '"')), f"{path.name}:{number}: no quotes, please"
        values[key] = value
    return values


@cache
def dotenv() -> dict[str, str]:
    return parse_env_file(ENV_FILE)


# ---------------------------------------------------- variable expansion
_COMPOSE_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$\$")
_OTEL_VAR = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ENVSUBST_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def compose_variables(text: str) -> set[str]:
    """Every ${VAR} (with or without modifiers) a Compose file interpolates."""
    return {m.group(1) for m in _COMPOSE_VAR.finditer(text) if m.group(1)}


def interpolate_compose(value: Any, env: Mapping[str, str]) -> Any:
    """Compose interpolation of a parsed value (strings inside lists and maps too)."""
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, op, arg = match.group(1), match.group(2), match.group(3)
            if name in env and (env[name] != "" or op not in (":-",)):
                return env[name]
            if op in (":-", "-"):
                return arg or ""
            raise AssertionError(f"${{{name}}} is not defined in .env")

        return _COMPOSE_VAR.sub(sub, value)
    if isinstance(value, list):
        return [interpolate_compose(item, env) for item in value]
    if isinstance(value, dict):
        return {key: interpolate_compose(item, env) for key, item in value.items()}
    return value


def otel_env_references(text: str) -> dict[str, str | None]:
    """``${env:NAME:-default}`` references of a collector/Jaeger config: name -> default."""
    return {m.group(1): m.group(2) for m in _OTEL_VAR.finditer(text)}


def envsubst_references(text: str) -> dict[str, str | None]:
    """``${NAME:-default}`` references of an envsubst-style (Tempo) config."""
    return {m.group(1): m.group(2) for m in _ENVSUBST_VAR.finditer(text)}


def expand_otel(text: str, env: Mapping[str, str]) -> str:
    """Expand ``${env:VAR:-default}`` as the collector's env provider does."""

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if env.get(name):
            return env[name]
        assert default is not None, f"${{env:{name}}} has no default and is not set"
        return default

    return _OTEL_VAR.sub(sub, text)


def expand_envsubst(text: str, env: Mapping[str, str]) -> str:
    """Expand ``${VAR:-default}`` as Tempo's -config.expand-env does."""

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if env.get(name):
            return env[name]
        assert default is not None, f"${{{name}}} has no default and is not set"
        return default

    return _ENVSUBST_VAR.sub(sub, text)


def load_expanded(component: str, env: Mapping[str, str]) -> dict[str, Any]:
    """A shared config (collector, jaeger, tempo, loki) parsed as its program would see it."""
    path = SHARED_CONFIGS[component]
    text = path.read_text()
    envsubst = component in ENVSUBST_CONFIGS
    expanded = expand_envsubst(text, env) if envsubst else expand_otel(text, env)
    return yaml.safe_load(expanded)


# -------------------------------------------------------------- endpoints
def host_port(endpoint: str) -> tuple[str, int]:
    """``host:port`` or a URL -> (host, port)."""
    if "://" in endpoint:
        parts = urlsplit(endpoint)
        assert parts.hostname and parts.port, f"{endpoint!r} names no host and port"
        return parts.hostname, parts.port
    host, _, port = endpoint.rpartition(":")
    assert host and port.isdigit(), f"{endpoint!r} is not host:port"
    return host, int(port)


@dataclass(frozen=True)
class Listeners:
    """What one component listens on, after its env vars are expanded."""

    bind_hosts: frozenset[str]
    ports: frozenset[int]


def _walk_endpoints(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if key in ("endpoint", "http_listen_address", "grpc_listen_address") and isinstance(
                value, str
            ):
                yield here, value
            else:
                yield from _walk_endpoints(value, here)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk_endpoints(item, f"{path}[{index}]")


def collector_listeners(config: Mapping[str, Any]) -> Listeners:
    """Receivers, health check, Prometheus exporter and own-metrics reader."""
    pairs: list[tuple[str, int]] = []
    for _, endpoint in _walk_endpoints(config.get("receivers", {})):
        pairs.append(host_port(endpoint))
    for _, endpoint in _walk_endpoints(config.get("extensions", {})):
        pairs.append(host_port(endpoint))
    for name, exporter in (config.get("exporters") or {}).items():
        if name.split("/")[0] == "prometheus":
            pairs.append(host_port(exporter["endpoint"]))
    for reader in config["service"]["telemetry"]["metrics"].get("readers", []):
        exporter = reader["pull"]["exporter"]["prometheus"]
        pairs.append((exporter["host"], int(exporter["port"])))
    return Listeners(frozenset(h for h, _ in pairs), frozenset(p for _, p in pairs))


def jaeger_listeners(config: Mapping[str, Any]) -> Listeners:
    pairs = [host_port(e) for _, e in _walk_endpoints(config.get("receivers", {}))]
    # The storage extension's endpoints are where Jaeger connects, not listens.
    servers = {k: v for k, v in config.get("extensions", {}).items() if k != "jaeger_storage"}
    pairs += [host_port(e) for _, e in _walk_endpoints(servers)]
    for reader in config["service"]["telemetry"]["metrics"].get("readers", []):
        exporter = reader["pull"]["exporter"]["prometheus"]
        pairs.append((exporter["host"], int(exporter["port"])))
    return Listeners(frozenset(h for h, _ in pairs), frozenset(p for _, p in pairs))


def tempo_listeners(config: Mapping[str, Any]) -> Listeners:
    server = config["server"]
    hosts = {server["http_listen_address"], server["grpc_listen_address"]}
    ports = {int(server["http_listen_port"]), int(server["grpc_listen_port"])}
    for _, endpoint in _walk_endpoints(config["distributor"]["receivers"]):
        host, port = host_port(endpoint)
        hosts.add(host)
        ports.add(port)
    return Listeners(frozenset(hosts), frozenset(ports))


def loki_listeners(config: Mapping[str, Any]) -> Listeners:
    server = config["server"]
    hosts = {server["http_listen_address"], server["grpc_listen_address"]}
    ports = {int(server["http_listen_port"]), int(server["grpc_listen_port"])}
    return Listeners(frozenset(hosts), frozenset(ports))


def listeners(component: str, env: Mapping[str, str]) -> Listeners:
    config = load_expanded(component, env)
    return {
        "otel-collector": collector_listeners,
        "jaeger": jaeger_listeners,
        "tempo": tempo_listeners,
        "loki": loki_listeners,
    }[component](config)


# ------------------------------------------------------ Jaeger's Monitor tab
def span_metrics_scrape_port(collector_env: Mapping[str, str]) -> int:
    """The port of the collector's Prometheus exporter, which serves the span metrics."""
    config = load_expanded("otel-collector", collector_env)
    (exporter,) = config["service"]["pipelines"]["metrics/spanmetrics"]["exporters"]
    return host_port(config["exporters"][exporter]["endpoint"])[1]


def jaeger_monitor_prometheus(jaeger_env: Mapping[str, str]) -> str | None:
    """The Prometheus URL Jaeger's Monitor tab reads with ``jaeger_env``; None when off.

    Checks on the way that the metrics backend asks for the names the
    collector's span_metrics connector exports through its Prometheus
    exporter: namespace with dots as underscores, the histogram's unit, and
    the suffixes that exporter adds (``_total``, ``_milliseconds``).
    """
    jaeger = load_expanded("jaeger", jaeger_env)
    name = jaeger["extensions"]["jaeger_query"]["storage"].get("metrics")
    if not name:
        return None
    backend = jaeger["extensions"]["jaeger_storage"]["metric_backends"][name]["prometheus"]
    connector = yaml.safe_load(SHARED_CONFIGS["otel-collector"].read_text())["connectors"]
    span_metrics = connector["span_metrics"]
    assert backend["metric_namespace"] == span_metrics["namespace"].replace(".", "_")
    assert backend["latency_unit"] == span_metrics["histogram"]["unit"]
    assert backend["normalize_calls"] is True and backend["normalize_duration"] is True
    return backend["endpoint"]


# The memory_limiter's spike when spike_limit_mib is unset: a fifth of the
# limit (collector internal/memorylimiter, newFixedMemUsageChecker).
DEFAULT_SPIKE_SHARE = 0.2


def memory_limiter_mib(config: Mapping[str, Any]) -> tuple[int, int]:
    """(limit, spike) in MiB of an expanded collector config's memory_limiter."""
    limiter = config["processors"]["memory_limiter"]
    assert "limit_percentage" not in limiter, "the limits are set in MiB, per mode"
    limit = int(limiter["limit_mib"])
    spike = int(limiter.get("spike_limit_mib") or limit * DEFAULT_SPIKE_SHARE)
    return limit, spike


# ------------------------------------------------------------------ sizes
def compose_bytes(value: str | int) -> int:
    """A Compose memory size (``128M``, ``1g``, bytes) in bytes."""
    if isinstance(value, int):
        return value
    match = _SIZE.match(value.strip())
    assert match, f"{value!r} is not a size"
    unit = match.group(2).lower()
    assert unit in _COMPOSE_UNITS, f"{value!r}: unknown unit"
    return int(float(match.group(1)) * _COMPOSE_UNITS[unit])


def k8s_bytes(value: str) -> int:
    match = _SIZE.match(str(value))
    assert match and match.group(2) in _K8S_UNITS, f"{value!r} is not a Kubernetes quantity"
    return int(float(match.group(1)) * _K8S_UNITS[match.group(2)])


# ------------------------------------------------------------ Dockerfile
@cache
def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


# --------------------------------------------------------------- compose
@cache
def compose_raw() -> dict[str, Any]:
    """docker-compose.yml as YAML (anchors and merge keys resolved)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


@cache
def compose() -> dict[str, Any]:
    """docker-compose.yml after interpolation with .env."""
    return interpolate_compose(compose_raw(), dotenv())


def env_of(service: Mapping[str, Any]) -> dict[str, str]:
    """A Compose service's environment as a dict (map or KEY=VALUE list form)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def published_ports(service: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of a service's short-syntax ports."""
    result = []
    for entry in service.get("ports", []):
        assert isinstance(entry, str), f"use the short port syntax: {entry!r}"
        parts = entry.split(":")
        assert len(parts) == 3, f"publish on an explicit address (127.0.0.1): {entry!r}"
        ip, host, container = parts
        result.append((ip, int(host), int(container.split("/")[0])))
    return result


def bind_mounts(service: Mapping[str, Any]) -> list[tuple[Path, str, bool]]:
    """(source on the host, target, read-only) of a service's bind mounts."""
    mounts = []
    for entry in service.get("volumes", []):
        assert isinstance(entry, str), f"use the short volume syntax: {entry!r}"
        source, target, *options = entry.split(":")
        if source.startswith((".", "/")):
            mounts.append(((ROOT / source).resolve(), target, "ro" in options))
    return mounts


def named_volumes(service: Mapping[str, Any]) -> list[str]:
    return [
        entry.split(":")[0]
        for entry in service.get("volumes", [])
        if not entry.split(":")[0].startswith((".", "/"))
    ]


# ------------------------------------------------------------ kubernetes
def kustomize(directory: Path) -> str:
    """Plain ``kubectl kustomize <directory>``: no flags, as ``kubectl apply -k`` renders."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to render the kustomize overlays"
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kustomize {directory} failed:\n{result.stderr}"
    return result.stdout


def render_overlay(overlay: str) -> tuple[dict[str, Any], ...]:
    """``kubectl kustomize infra/k8s/overlays/<overlay>``, as parsed documents."""
    return render_kustomization(overlay)


@cache
def render_kustomization(name: str) -> tuple[dict[str, Any], ...]:
    """``kubectl kustomize`` of the base (``base``: infra/) or an overlay, as parsed documents."""
    directory = K8S_BASE if name == "base" else K8S_DIR / "overlays" / name
    docs = tuple(doc for doc in yaml.safe_load_all(kustomize(directory)) if doc)
    assert docs, f"{name} rendered nothing"
    return docs


def by_kind(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


def workloads(docs: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    return {
        f"{doc['kind']}/{doc['metadata']['name']}": doc
        for doc in docs
        if doc["kind"] in WORKLOAD_KINDS
    }


def pod_spec(workload: Mapping[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def pod_labels(workload: Mapping[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"].get("labels", {})


def selected_workloads(docs, service_name: str) -> list[dict]:
    """The workloads whose pods a Service selects."""
    selector = by_kind(docs, "Service")[service_name]["spec"]["selector"]
    return [
        w
        for w in workloads(docs).values()
        if all(pod_labels(w).get(k) == v for k, v in selector.items())
    ]


def container_env(container: Mapping[str, Any]) -> dict[str, Any]:
    """name -> value (a string) or the valueFrom mapping."""
    return {
        item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])
    }


def configmap_for(docs: tuple[dict[str, Any], ...], base_name: str) -> dict[str, Any]:
    """The rendered ConfigMap generated as ``base_name`` (kustomize adds a hash)."""
    matches = [
        doc
        for doc in docs
        if doc["kind"] == "ConfigMap"
        and re.fullmatch(re.escape(base_name) + r"(-[a-z0-9]{10})?", doc["metadata"]["name"])
    ]
    assert len(matches) == 1, f"expected one ConfigMap {base_name}, found {len(matches)}"
    return matches[0]


def k8s_env(overlay: str, kind_name: str) -> dict[str, str]:
    """Plain env values of a workload's container; references get stand-in values."""
    docs = render_overlay(overlay)
    return k8s_container_env(docs, pod_spec(workloads(docs)[kind_name])["containers"][0])


def k8s_container_env(docs, container: Mapping[str, Any]) -> dict[str, str]:
    """Plain env values of a container; ConfigMap refs resolved, Secrets get stand-ins."""
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


def environment(docs, container: Mapping[str, Any]) -> dict[str, str]:
    """Plain and ConfigMap-sourced variables of a container (Secrets hold no endpoints)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(by_kind(docs, "ConfigMap")[source["configMapRef"]["name"]]["data"])
    for name, value in container_env(container).items():
        if isinstance(value, str):
            env[name] = value
        elif "configMapKeyRef" in value:
            ref = value["configMapKeyRef"]
            env[name] = by_kind(docs, "ConfigMap")[ref["name"]]["data"][ref["key"]]
    return env


def merge(base: Any, extra: Any) -> Any:
    """The collector's merge of --config files: maps merge, anything else is replaced."""
    if isinstance(base, dict) and isinstance(extra, dict):
        return {
            k: merge(base[k], extra[k]) if k in base and k in extra else extra.get(k, base.get(k))
            for k in {**base, **extra}
        }
    return extra


def collector_config(docs, workload, container, env: Mapping[str, str]) -> dict[str, Any]:
    """A collector's files, as its --config arguments load them, expanded and merged."""
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
    merged: dict[str, Any] = {}
    for arg in container["args"]:
        path = arg.removeprefix("--config=")
        directory, _, filename = path.rpartition("/")
        configmap = volumes[mounts[directory]]["configMap"]["name"]
        text = by_kind(docs, "ConfigMap")[configmap]["data"][filename]
        merged = merge(merged, yaml.safe_load(expand_otel(text, env)))
    return merged


# Grafana's documented minimum (grafana.com/docs/grafana/v13.2/setup-grafana/installation).
GRAFANA_MINIMUM = {"memory": 512 * 2**20, "cpu": 1.0}


# ------------------------------------------------------------------- Locust
LOCUSTFILE = Path("loadtest/locustfile.py")
FIRST_PARTY = ("tracelab", "services")


def locust_files() -> set[Path]:
    """The repo files the Locust containers need: the locustfile and what it imports of ours.

    Followed import by import from loadtest/locustfile.py, so a new import in
    the journeys' definition shows up here (and must be mounted).
    """
    import ast

    needed: set[Path] = set()
    todo = [LOCUSTFILE]
    while todo:
        path = todo.pop()
        if path in needed:
            continue
        needed.add(path)
        for node in ast.walk(ast.parse((ROOT / path).read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            todo += [
                Path(*name.split(".")).with_suffix(".py")
                for name in names
                if name.split(".")[0] in FIRST_PARTY
            ]
    return needed
