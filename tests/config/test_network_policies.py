"""Production's NetworkPolicies and Ingress, checked against the calls the pods really make.

The calls are derived from the rendered objects, never listed by hand: the
URLs and endpoints in every workload's environment (its own variables and
the ConfigMaps it loads), URLs in container arguments, the exporters each
collector's pipelines use (its merged config files), Prometheus's scrape
targets, Grafana's data sources and the Ingress's backends. Each call must be
allowed by some policy, on the port the destination pod serves it on, and
every allowance a policy grants must serve some call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.config.helpers import (
    DATASOURCES_FILE,
    PROMETHEUS_CONFIG,
    ROOT,
    by_kind,
    collector_config,
    configmap_for,
    environment,
    host_port,
    pod_labels,
    pod_spec,
    render_overlay,
    selected_workloads,
    workloads,
)

# The label docs/deploy.md tells you to put on the ingress controller's namespace.
INGRESS_NAMESPACE_LABELS = {"tracelab.io/ingress-controller": "true"}
INGRESS_CONTROLLER = "ingress-controller"
SHARED_COLLECTOR_ARG = "--config=/etc/tracelab/otel-collector/config.yaml"
GUIDE = ROOT / "docs" / "deploy.md"


@dataclass(frozen=True)
class Call:
    """``source`` (a workload, or the ingress controller) connects to ``target`` on ``port``."""

    source: str
    target: str
    port: int
    why: str


@pytest.fixture(scope="module")
def docs():
    return render_overlay("production")


# ----------------------------------------------------------------- calls
def service_backends(docs, service: str, port: int) -> list[tuple[str, int]]:
    """(workload, container port) behind ``service:port``."""
    entries = [p for p in by_kind(docs, "Service")[service]["spec"]["ports"] if p["port"] == port]
    assert entries, f"Service {service} has no port {port}"
    target = entries[0].get("targetPort", port)
    found = []
    for workload in selected_workloads(docs, service):
        named = {
            p.get("name"): p["containerPort"]
            for c in pod_spec(workload)["containers"]
            for p in c.get("ports", [])
        }
        found.append((workload_key(workload), named.get(target, target)))
    assert found, f"Service {service} selects no workload"
    return found


def dns_backends(docs, name: str, port: int) -> list[tuple[str, int]]:
    """Pods behind a headless Service's A records: the port is the pod's own."""
    assert by_kind(docs, "Service")[name]["spec"].get("clusterIP") == "None", (
        f"{name} is resolved per pod but not headless"
    )
    return [(workload_key(w), port) for w in selected_workloads(docs, name)]


def workload_key(workload) -> str:
    return f"{workload['kind']}/{workload['metadata']['name']}"


def endpoint_calls(docs, source: str, endpoint: str, why: str) -> list[Call]:
    """Calls to ``endpoint`` if it names a Service of the namespace (else: outside it)."""
    host = urlsplit(endpoint).hostname if "://" in endpoint else endpoint.partition(":")[0]
    if host not in by_kind(docs, "Service"):
        return []  # outside the namespace (OpenSearch, S3), or a listen address
    host, port = host_port(endpoint)
    return [Call(source, target, p, why) for target, p in service_backends(docs, host, port)]


def collector_calls(docs, key: str, config: Mapping[str, Any]) -> list[Call]:
    """Where the exporters of the collector's pipelines send (unused exporters start nothing)."""
    calls: list[Call] = []
    used = {e for p in config["service"]["pipelines"].values() for e in p.get("exporters", [])}
    for name in used:
        exporter = (config.get("exporters") or {}).get(name)
        if exporter is None:
            continue  # a connector
        why = f"{key} exporter {name}"
        if name.split("/")[0] == "loadbalancing":
            dns = exporter["resolver"]["dns"]
            calls += [
                Call(key, target, port, why)
                for target, port in dns_backends(docs, dns["hostname"], int(dns["port"]))
            ]
        elif "endpoint" in exporter and name.split("/")[0] != "prometheus":
            calls += endpoint_calls(docs, key, exporter["endpoint"], why)
    return calls


def prometheus_calls(docs, key: str) -> list[Call]:
    calls: list[Call] = []
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    services = by_kind(docs, "Service")
    for job in config["scrape_configs"]:
        why = f"prometheus job {job['job_name']}"
        for dns in job.get("dns_sd_configs", []):
            for name in dns["names"]:
                if name in services:
                    calls += [
                        Call(key, t, p, why) for t, p in dns_backends(docs, name, dns["port"])
                    ]
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                calls += endpoint_calls(docs, key, target, why)
    return calls


def grafana_calls(docs, key: str) -> list[Call]:
    sources = yaml.safe_load(DATASOURCES_FILE.read_text())["datasources"]
    return [
        call
        for source in sources
        for call in endpoint_calls(docs, key, source["url"], f"grafana data source {source['uid']}")
    ]


def ingress_calls(docs) -> list[Call]:
    calls: list[Call] = []
    for name, ingress in by_kind(docs, "Ingress").items():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                service = path["backend"]["service"]
                for target, port in service_backends(
                    docs, service["name"], service["port"]["number"]
                ):
                    calls.append(
                        Call(INGRESS_CONTROLLER, target, port, f"Ingress {name} {rule['host']}")
                    )
    return calls


def calls_of(docs) -> list[Call]:
    """Every connection the production pods make to each other, and the Ingress's."""
    calls = ingress_calls(docs)
    for key, workload in workloads(docs).items():
        for container in pod_spec(workload)["containers"]:
            env = environment(docs, container)
            if SHARED_COLLECTOR_ARG in container.get("args", []):
                calls += collector_calls(
                    docs, key, collector_config(docs, workload, container, env)
                )
            else:
                for name, value in env.items():
                    if name.endswith(("_URL", "_ENDPOINT")):
                        calls += endpoint_calls(docs, key, value, f"{key} ${name}")
            for arg in container.get("args", []):
                _, _, value = arg.partition("=")
                if value.startswith(("http://", "https://")):
                    calls += endpoint_calls(docs, key, value, f"{key} {arg}")
        name = pod_labels(workload).get("app.kubernetes.io/name")
        if name == "prometheus":
            calls += prometheus_calls(docs, key)
        if name == "grafana":
            calls += grafana_calls(docs, key)
    return calls


# -------------------------------------------------------------- policies
def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"only matchLabels here: {selector}"
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def source_matches(docs, peer: Mapping[str, Any], source: str) -> bool:
    assert set(peer) <= {"podSelector", "namespaceSelector"}, f"unexpected peer {peer}"
    if source == INGRESS_CONTROLLER:
        # Some pod of the controller's namespace: a peer naming pods must not match.
        return "podSelector" not in peer and selects(
            peer["namespaceSelector"], INGRESS_NAMESPACE_LABELS
        )
    (namespace,) = by_kind(docs, "Namespace").values()
    namespace_labels = {
        **namespace["metadata"].get("labels", {}),
        "kubernetes.io/metadata.name": namespace["metadata"]["name"],
    }
    if "namespaceSelector" in peer and not selects(peer["namespaceSelector"], namespace_labels):
        return False
    return selects(peer.get("podSelector", {}), pod_labels(workloads(docs)[source]))


def grants(docs):
    """(policy, destination selector, peer, port) of every allowance."""
    for name, policy in by_kind(docs, "NetworkPolicy").items():
        spec = policy["spec"]
        for rule in spec.get("ingress", []):
            ports = [p["port"] for p in rule.get("ports", [])]
            assert ports and all(isinstance(p, int) for p in ports), f"{name}: name its ports"
            assert rule.get("from"), f"{name}: a rule without `from` admits everyone"
            for peer in rule["from"]:
                for port in ports:
                    yield name, spec["podSelector"], peer, port


def is_allowed(docs, call: Call) -> bool:
    target = pod_labels(workloads(docs)[call.target])
    return any(
        port == call.port and selects(selector, target) and source_matches(docs, peer, call.source)
        for _, selector, peer, port in grants(docs)
    )


# ------------------------------------------------------------------ tests
def test_ingress_is_denied_by_default(docs):
    policies = by_kind(docs, "NetworkPolicy")
    defaults = [
        name
        for name, p in policies.items()
        if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")
    ]
    assert defaults, "no default-deny policy: pods no policy selects accept everyone"
    for name, policy in policies.items():
        assert policy["spec"]["policyTypes"] == ["Ingress"], f"{name}: ingress only"


def test_every_call_the_pods_make_is_allowed(docs):
    calls = calls_of(docs)
    assert len({c.source for c in calls}) >= 10, "the derivation found too few callers"
    refused = [c for c in calls if not is_allowed(docs, c)]
    assert not refused, "refused by the NetworkPolicies:\n" + "\n".join(
        f"  {c.source} -> {c.target}:{c.port} ({c.why})" for c in refused
    )


def test_nothing_else_is_allowed(docs):
    calls = calls_of(docs)
    unused = []
    for name, selector, peer, port in grants(docs):
        if not any(
            c.port == port
            and selects(selector, pod_labels(workloads(docs)[c.target]))
            and source_matches(docs, peer, c.source)
            for c in calls
        ):
            unused.append(f"  {name}: {peer} on {port}")
    assert not unused, "allowances no call needs:\n" + "\n".join(unused)


def test_the_ingress_serves_frontend_and_grafana_over_tls(docs):
    (ingress,) = by_kind(docs, "Ingress").values()
    backends = {
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    wanted = {"frontend", "grafana"} | ({"console"} & set(by_kind(docs, "Service")))
    assert backends == wanted
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    covered = {host for tls in ingress["spec"]["tls"] for host in tls["hosts"]}
    assert hosts <= covered, f"served without TLS: {sorted(hosts - covered)}"
    guide = GUIDE.read_text()
    for tls in ingress["spec"]["tls"]:
        assert f"create secret tls {tls['secretName']}" in guide, tls["secretName"]
    label = ",".join(f"{k}={v}" for k, v in INGRESS_NAMESPACE_LABELS.items())
    assert f"kubectl label namespace <your ingress controller's namespace> {label}" in guide


def test_dev_has_no_policies_or_ingress():
    """kind and minikube: port-forward, and their default CNI enforces no policy anyway."""
    dev = render_overlay("dev")
    assert not by_kind(dev, "NetworkPolicy") and not by_kind(dev, "Ingress")


def test_the_derivation_sees_the_endpoint_the_services_load_from_a_configmap(docs):
    """The services' OTLP endpoint arrives through envFrom; the derivation must see it."""
    data = configmap_for(docs, "tracelab-service-env")["data"]
    calls = [c for c in calls_of(docs) if "OTEL_EXPORTER_OTLP_ENDPOINT" in c.why]
    assert data["OTEL_EXPORTER_OTLP_ENDPOINT"] and len({c.source for c in calls}) == 5
