"""infra/k8s, checked offline: every overlay rendered and validated, and wired.

Each overlay is rendered with plain ``kubectl kustomize`` (no flags: the base
is infra/kustomization.yaml, beside the shared configs) and every object is
validated against the Kubernetes schemas of a pinned version, strictly.
"""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from services.common import exporters, launch
from tests.config.helpers import (
    CONSOLE_PORT,
    DASHBOARD_PROVIDERS_FILE,
    DASHBOARDS_DIR,
    DATASOURCES_FILE,
    GRAFANA_MINIMUM,
    JAEGER_QUERY_PORT,
    K8S_BASE,
    K8S_DIR,
    KUBERNETES_VERSION,
    LOCUSTFILE,
    OVERLAY_DIRS,
    OVERLAYS,
    PROMETHEUS_CONFIG,
    ROOT,
    SERVICE_PORTS,
    SHARED_CONFIGS,
    SPAN_METRICS_PORT,
    WORKLOAD_KINDS,
    by_kind,
    collector_config,
    compose,
    configmap_for,
    container_env,
    dotenv,
    environment,
    expand_otel,
    host_port,
    jaeger_monitor_prometheus,
    k8s_bytes,
    k8s_env,
    kustomize,
    listeners,
    load_expanded,
    locust_files,
    memory_limiter_mib,
    pod_labels,
    pod_spec,
    published_ports,
    render_overlay,
    selected_workloads,
    span_metrics_scrape_port,
    workloads,
)

NAMESPACE = "tracelab"
PRODUCTION = ROOT / "infra" / "k8s" / "overlays" / "production"
# Objects the manifests reference but do not create, on purpose:
#   locustfile: loadtest/locustfile.py and the journeys it imports, loaded by `make k8s-up`;
#   production secrets: created by whoever runs the cluster (docs/deploy.md).
# Made by `make k8s-up` (mk/deploy.mk), never committed: the locustfile and
# the admin token; production's own credentials come from its operators.
EXTERNAL = {
    "dev": {("ConfigMap", "locustfile"), ("Secret", "tracelab-admin")},
    "production": {
        ("Secret", "tracelab-admin"),
        ("Secret", "tracelab-secrets"),
        ("Secret", "tracelab-storage-credentials"),
        ("Secret", "tracelab-opensearch-ca"),
    },
}
# The shared files each generated ConfigMap must hold byte for byte.
SHARED_CONFIGMAPS = {
    "otel-collector-config": {"config.yaml": SHARED_CONFIGS["otel-collector"]},
    "jaeger-config": {"config.yaml": SHARED_CONFIGS["jaeger"]},
    "tempo-config": {"tempo.yaml": SHARED_CONFIGS["tempo"]},
    "loki-config": {"loki.yaml": SHARED_CONFIGS["loki"]},
    "prometheus-config": {"prometheus.yml": PROMETHEUS_CONFIG},
    "grafana-datasources": {"datasources.yaml": DATASOURCES_FILE},
    "grafana-dashboard-providers": {"tracelab.yaml": DASHBOARD_PROVIDERS_FILE},
    "grafana-dashboards": {"tracelab-red.json": DASHBOARDS_DIR / "tracelab-red.json"},
    "postgres-initdb": {
        "01-schema.sql": ROOT / "infra" / "postgres" / "schema.sql",
        "02-seed.sql": ROOT / "infra" / "postgres" / "seed.sql",
    },
}
# Image repository -> the .env variable pinning it for Compose.
IMAGE_PINS = {
    "otel/opentelemetry-collector-contrib": "OTELCOL_IMAGE",
    "jaegertracing/jaeger": "JAEGER_IMAGE",
    "grafana/tempo": "TEMPO_IMAGE",
    "grafana/loki": "LOKI_IMAGE",
    "prom/prometheus": "PROMETHEUS_IMAGE",
    "grafana/grafana": "GRAFANA_IMAGE",
    "postgres": "POSTGRES_IMAGE",
    "locustio/locust": "LOCUST_IMAGE",
}
# A Locust worker serves no port: the one container allowed no probes.
NO_PROBES = {"Deployment/locust-worker"}


def containers(overlay: str):
    for key, workload in workloads(render_overlay(overlay)).items():
        spec = pod_spec(workload)
        for container in spec.get("initContainers", []) + spec["containers"]:
            yield key, workload, container


# ------------------------------------------------------- render + validate
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_for_the_pinned_kubernetes_version(overlay):
    failures = []
    for doc in render_overlay(overlay):
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            failures.append(f"{doc['kind']}/{doc['metadata']['name']}: {error.message}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_everything_lives_in_the_tracelab_namespace(overlay):
    docs = render_overlay(overlay)
    (namespace,) = by_kind(docs, "Namespace").values()
    assert namespace["metadata"]["name"] == NAMESPACE
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_shared_configs_are_byte_identical(overlay):
    docs = render_overlay(overlay)
    for name, files in SHARED_CONFIGMAPS.items():
        data = configmap_for(docs, name)["data"]
        assert set(data) == set(files), f"{name}: keys {sorted(data)}"
        for key, path in files.items():
            assert data[key] == path.read_text(), f"{name}/{key} differs from {path}"


# ------------------------------------------------- one copy, plain kustomize
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_render_with_plain_kustomize_by_either_path(overlay):
    """``kubectl apply -k infra/k8s/overlays/<overlay>`` needs no flag (render_overlay has none)."""
    link = K8S_DIR / "overlays" / overlay
    assert link.is_symlink() and link.resolve() == OVERLAY_DIRS / overlay
    assert kustomize(OVERLAY_DIRS / overlay) == kustomize(link)


def test_the_base_reads_the_shared_files_themselves_and_nothing_copies_them():
    base = yaml.safe_load((K8S_BASE / "kustomization.yaml").read_text())
    sources = {}
    for generator in base["configMapGenerator"]:
        for item in generator.get("files", []):
            key, _, path = item.rpartition("=")
            sources[generator["name"], key or Path(path).name] = (K8S_BASE / path).resolve()
    shared = set()
    for name, files in SHARED_CONFIGMAPS.items():
        for key, path in files.items():
            assert sources[name, key] == path.resolve(), f"{name}/{key}"
            shared.add(path.read_bytes())
    for tree in (K8S_DIR, OVERLAY_DIRS):
        for file in tree.rglob("*"):
            if file.is_file() and not file.is_symlink():
                assert file.read_bytes() not in shared, f"{file} is a copy of a shared config"


# ------------------------------------------------------------------ images
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned_and_agree_with_compose(overlay):
    for key, _, container in containers(overlay):
        image = container["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{key}: {image!r} is not pinned"
        assert re.search(r"\d+\.\d+", tag), f"{key}: {image!r} is not an exact version"
        if repository in IMAGE_PINS:
            assert image == dotenv()[IMAGE_PINS[repository]], f"{key}: {image} vs .env"
        else:
            assert repository.endswith("tracelab-service"), f"{key}: unexpected {image}"
            assert tag == dotenv()["TRACELAB_IMAGE"].rpartition(":")[2]


# ----------------------------------------------- probes, limits, security
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_probes_resources_and_a_restricted_context(overlay):
    for key, workload, container in containers(overlay):
        name = f"{key}/{container['name']}"
        if key not in NO_PROBES:
            assert "readinessProbe" in container, f"{name}: no readiness probe"
            assert "livenessProbe" in container, f"{name}: no liveness probe"
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(kind, {})), f"{name}: {kind}"
        assert k8s_bytes(resources["requests"]["memory"]) <= k8s_bytes(
            resources["limits"]["memory"]
        ), name
        security = container.get("securityContext", {})
        assert security.get("allowPrivilegeEscalation") is False, name
        assert security.get("capabilities", {}).get("drop") == ["ALL"], name
        pod = pod_spec(workload)["securityContext"]
        assert pod.get("runAsNonRoot") is True and pod.get("runAsUser", 0) > 0, name
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        assert pod_spec(workload).get("automountServiceAccountToken") is False, name
        assert pod_spec(workload).get("enableServiceLinks") is False, name


# ------------------------------------------------------------- references
def referenced_objects(workload) -> set[tuple[str, str]]:
    spec = pod_spec(workload)
    refs: set[tuple[str, str]] = set()
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            refs.add(("ConfigMap", volume["configMap"]["name"]))
        if "secret" in volume:
            refs.add(("Secret", volume["secret"]["secretName"]))
        if "persistentVolumeClaim" in volume:
            refs.add(("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]))
    for container in spec.get("initContainers", []) + spec["containers"]:
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                refs.add(("ConfigMap", source["configMapRef"]["name"]))
            if "secretRef" in source:
                refs.add(("Secret", source["secretRef"]["name"]))
        for item in container.get("env", []):
            value_from = item.get("valueFrom", {})
            if "configMapKeyRef" in value_from:
                refs.add(("ConfigMap", value_from["configMapKeyRef"]["name"]))
            if "secretKeyRef" in value_from:
                refs.add(("Secret", value_from["secretKeyRef"]["name"]))
    return refs


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_referenced_object_exists_or_is_documented_as_external(overlay):
    docs = render_overlay(overlay)
    existing = {(doc["kind"], doc["metadata"]["name"]) for doc in docs}
    for key, workload in workloads(docs).items():
        missing = referenced_objects(workload) - existing - EXTERNAL[overlay]
        assert not missing, f"{key} references missing {sorted(missing)}"
    # And the lab credentials of the base never reach production.
    secrets = by_kind(docs, "Secret")
    assert bool(secrets) == (overlay == "dev"), sorted(secrets)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_select_pods_and_target_their_ports(overlay):
    docs = render_overlay(overlay)
    pods = list(workloads(docs).values())
    for name, service in by_kind(docs, "Service").items():
        selector = service["spec"]["selector"]
        targets = [w for w in pods if all(pod_labels(w).get(k) == v for k, v in selector.items())]
        assert targets, f"Service {name} selects no pod"
        for port in service["spec"]["ports"]:
            for workload in targets:
                ports = {
                    p.get("name"): p["containerPort"]
                    for c in pod_spec(workload)["containers"]
                    for p in c.get("ports", [])
                }
                target = port.get("targetPort", port["port"])
                assert target in ports or target in ports.values(), (
                    f"Service {name} port {port['port']} -> {target} not on the pod"
                )


def service_ports(docs, name: str) -> set[int]:
    service = by_kind(docs, "Service").get(name)
    assert service, f"no Service {name}"
    return {port["port"] for port in service["spec"]["ports"]}


def assert_reaches(docs, endpoint: str, service: str | None = None) -> None:
    host, port = host_port(endpoint)
    if service:
        assert host == service, f"{endpoint} does not name {service}"
    assert port in service_ports(docs, host), f"{endpoint}: Service {host} has no port {port}"


def the_container(docs, kind_name: str) -> dict:
    (container,) = [c for c in pod_spec(workloads(docs)[kind_name])["containers"]]
    return container


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_services_reach_each_other_and_the_collector(overlay):
    docs = render_overlay(overlay)
    common = configmap_for(docs, "tracelab-service-env")["data"]
    assert common["BIND_HOST"] == "0.0.0.0"
    assert_reaches(docs, common["OTEL_EXPORTER_OTLP_ENDPOINT"], "otel-collector")
    for name, port in SERVICE_PORTS.items():
        container = the_container(docs, f"Deployment/{name}")
        env = container_env(container)
        assert env["SERVICE"] == name and env["PORT"] == str(port)
        assert [p["containerPort"] for p in container["ports"]] == [port]
        for key, value in env.items():
            if key.endswith("_URL") and isinstance(value, str) and "localhost" not in value:
                if key == "DATABASE_URL":
                    assert value.endswith("@postgres:5432/tracelab")
                    assert 5432 in service_ports(docs, "postgres")
                else:
                    assert_reaches(docs, value)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_backends_listen_where_their_services_point(overlay):
    docs = render_overlay(overlay)
    for component in SHARED_CONFIGS:
        container = the_container(docs, f"Deployment/{component}")
        env = {k: v for k, v in container_env(container).items() if isinstance(v, str)}
        found = listeners(component, env)
        assert found.bind_hosts == {"0.0.0.0"}, f"{component} binds {sorted(found.bind_hosts)}"
        declared = {p["containerPort"] for p in container["ports"]}
        assert declared <= found.ports, f"{component}: declares {declared - found.ports}"
        for probe in ("readinessProbe", "livenessProbe"):
            port = container[probe]["httpGet"]["port"]
            named = {p["name"]: p["containerPort"] for p in container["ports"]}
            assert named.get(port, port) in found.ports, f"{component} {probe}"
    collector = container_env(the_container(docs, "Deployment/otel-collector"))
    assert_reaches(docs, collector["JAEGER_OTLP_ENDPOINT"], "jaeger")
    assert_reaches(docs, collector["TEMPO_OTLP_ENDPOINT"], "tempo")
    tempo = container_env(the_container(docs, "Deployment/tempo"))
    assert_reaches(docs, tempo["PROMETHEUS_REMOTE_WRITE_URL"], "prometheus")
    args = the_container(docs, "Deployment/prometheus")["args"]
    assert "--web.enable-remote-write-receiver" in args


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_export_logs_which_the_collector_sends_to_loki(overlay):
    """In production too: tier 1 (the services' collector) exports logs itself."""
    docs = render_overlay(overlay)
    service_env = configmap_for(docs, "tracelab-service-env")["data"]
    assert (service_env["OTEL_TRACES_EXPORTER"], service_env["OTEL_LOGS_EXPORTER"]) == (
        "tracelab",
        "tracelab",
    )
    assert exporters.exporter_name(exporters.LOGS, service_env) == exporters.DIRECT_EXPORTER
    env = {
        k: v
        for k, v in container_env(the_container(docs, "Deployment/otel-collector")).items()
        if isinstance(v, str)
    }
    config = load_expanded("otel-collector", env)
    assert config["service"]["pipelines"]["logs"]["exporters"] == ["otlp_http/loki"]
    endpoint = config["exporters"]["otlp_http/loki"]["endpoint"]
    assert endpoint == "http://loki:3100/otlp"
    assert_reaches(docs, endpoint, "loki")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_jaegers_monitor_tab_reads_the_span_metrics_prometheus_scrapes(overlay):
    docs = render_overlay(overlay)
    jaeger = container_env(the_container(docs, "Deployment/jaeger"))
    url = jaeger_monitor_prometheus({k: v for k, v in jaeger.items() if isinstance(v, str)})
    assert url, "Kubernetes runs Prometheus: the Monitor tab must be on"
    assert_reaches(docs, url, "prometheus")
    collector = container_env(the_container(docs, "Deployment/otel-collector"))
    port = span_metrics_scrape_port({k: v for k, v in collector.items() if isinstance(v, str)})
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    targets = [
        name
        for job in config["scrape_configs"]
        for dns in job.get("dns_sd_configs", [])
        if dns["port"] == port
        for name in dns["names"]
    ]
    assert targets, f"Prometheus scrapes no :{port}"
    for name in targets:
        assert port in service_ports(docs, name)
        selected = by_kind(docs, "Service")[name]["spec"]["selector"]["app.kubernetes.io/name"]
        assert selected == "otel-collector"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_loki_is_the_same_in_compose_and_kubernetes(overlay):
    """Service name, port, image, config file and data directory."""
    docs = render_overlay(overlay)
    compose_loki = compose()["services"]["loki"]
    container = the_container(docs, "Deployment/loki")
    published = {container_port for _, _, container_port in published_ports(compose_loki)}
    assert {p["containerPort"] for p in container["ports"]} == published == {3100}
    assert service_ports(docs, "loki") == published
    assert container["image"] == compose_loki["image"]
    # The same flags, the file at the path the ConfigMap is mounted on.
    compose_args = [a for a in compose_loki["command"] if not a.startswith("-config.file=")]
    k8s_args = [a for a in container["args"] if not a.startswith("-config.file=")]
    assert compose_args == k8s_args == ["-config.expand-env=true"]
    (config_file,) = [a.partition("=")[2] for a in container["args"] if "-config.file=" in a]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    directory, _, filename = config_file.rpartition("/")
    volumes = {v["name"]: v for v in pod_spec(workloads(docs)["Deployment/loki"])["volumes"]}
    config_map = volumes[mounts[directory]]["configMap"]["name"]
    assert configmap_for(docs, "loki-config")["metadata"]["name"] == config_map
    assert filename in configmap_for(docs, "loki-config")["data"]
    data_dir = load_expanded("loki", {})["common"]["path_prefix"]
    assert mounts[data_dir] == "data"
    assert f"loki-data:{data_dir}" in compose_loki["volumes"]


def scrape_jobs(docs) -> dict[str, list[tuple[str, str, int]]]:
    """job -> (how, Service name, port) of every target Prometheus finds in the cluster."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    services = by_kind(docs, "Service")
    jobs: dict[str, list[tuple[str, str, int]]] = {}
    for job in config["scrape_configs"]:
        found = jobs.setdefault(job["job_name"], [])
        for dns in job.get("dns_sd_configs", []):
            found += [("dns", name, dns["port"]) for name in dns["names"] if name in services]
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                if not target.startswith("localhost:"):
                    host, port = host_port(target)
                    found.append(("static", host, port))
    return jobs


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_prometheus_scrapes_every_replica_of_every_tier(overlay):
    """Through a Service, two replicas alternate and their counters seem to reset."""
    docs = render_overlay(overlay)
    services = by_kind(docs, "Service")
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    names = {
        n
        for job in config["scrape_configs"]
        for d in job.get("dns_sd_configs", [])
        for n in d["names"]
    }
    if overlay == "production":
        assert names <= set(services), f"no Service for {sorted(names - set(services))}"
    for job, targets in scrape_jobs(docs).items():
        for how, name, port in targets:
            assert_reaches(docs, f"{name}:{port}")
            pods = selected_workloads(docs, name)
            if how == "dns":
                assert services[name]["spec"].get("clusterIP") == "None", f"{name}: not headless"
            else:
                replicas = max(w["spec"].get("replicas", 1) for w in pods)
                assert replicas == 1, (
                    f"job {job}: {name} has {replicas} replicas behind one address"
                )
    # Every telemetry tier is scraped, the tail-sampling one included.
    scraped = {
        pod_labels(w)["app.kubernetes.io/name"]
        for targets in scrape_jobs(docs).values()
        for _, name, _ in targets
        for w in selected_workloads(docs, name)
    }
    tiers = {
        pod_labels(w)["app.kubernetes.io/name"]
        for w in workloads(docs).values()
        if pod_labels(w).get("app.kubernetes.io/component") == "telemetry"
    }
    assert tiers <= scraped, f"not scraped: {sorted(tiers - scraped)}"
    # Span metrics come from tier 1 only: before sampling, every span counted.
    for _, name, _ in scrape_jobs(docs)["span-metrics"]:
        assert {
            pod_labels(w)["app.kubernetes.io/name"] for w in selected_workloads(docs, name)
        } == {"otel-collector"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grafana_mounts_provisioning_and_home_dashboard(overlay):
    docs = render_overlay(overlay)
    container = the_container(docs, "Deployment/grafana")
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {
        v["name"]: v["configMap"]["name"]
        for v in pod_spec(workloads(docs)["Deployment/grafana"])["volumes"]
        if "configMap" in v
    }
    by_path = {mounts[name]: cm for name, cm in volumes.items()}
    assert by_path["/etc/grafana/provisioning/datasources"].startswith("grafana-datasources")
    assert by_path["/etc/grafana/provisioning/dashboards"].startswith("grafana-dashboard-providers")
    provider = yaml.safe_load(DASHBOARD_PROVIDERS_FILE.read_text())["providers"][0]
    assert by_path[provider["options"]["path"]].startswith("grafana-dashboards")
    home = container_env(container)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    directory, _, filename = home.rpartition("/")
    assert directory == provider["options"]["path"]
    assert filename in configmap_for(docs, "grafana-dashboards")["data"]


def test_locust_master_and_workers_run_in_dev():
    docs = render_overlay("dev")
    master = the_container(docs, "Deployment/locust-master")
    worker = the_container(docs, "Deployment/locust-worker")
    assert "--master" in master["args"] and "--worker" in worker["args"]
    assert "--master-host=locust-master" in worker["args"]
    assert 5557 in service_ports(docs, "locust-master")
    assert "--host=http://frontend:8080" in master["args"]
    assert workloads(docs)["Deployment/locust-worker"]["spec"]["replicas"] == 1


def test_locust_mounts_the_locustfile_and_the_journeys_it_imports():
    """The ConfigMap's keys land at their package paths under PYTHONPATH; k8s-up fills them."""
    docs = render_overlay("dev")
    recipe = dict(
        re.findall(r"--from-file=([\w.]+)=([\w./]+)", (ROOT / "mk" / "deploy.mk").read_text())
    )
    for kind_name in ("Deployment/locust-master", "Deployment/locust-worker"):
        container = the_container(docs, kind_name)
        pythonpath = container_env(container)["PYTHONPATH"]
        (mount,) = container["volumeMounts"]
        assert mount["mountPath"] == pythonpath and mount["readOnly"] is True
        volumes = {v["name"]: v for v in pod_spec(workloads(docs)[kind_name])["volumes"]}
        config_map = volumes[mount["name"]]["configMap"]
        assert config_map["name"] == "locustfile"
        files = {Path(item["path"]): item["key"] for item in config_map["items"]}
        assert set(files) == locust_files(), kind_name
        for path, key in files.items():
            assert Path(recipe[key]) == path, f"k8s-up loads {key} from {recipe[key]}, not {path}"
        (locustfile,) = [a.split("=", 1)[1] for a in container["args"] if "--locustfile=" in a]
        assert Path(locustfile).relative_to(pythonpath) == LOCUSTFILE


def test_no_load_generator_in_the_production_namespace():
    """Locust's users would share the namespace, quotas and policies of the real ones."""
    for doc in production():
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/name") != "locust", doc["metadata"]["name"]
        if doc["kind"] in WORKLOAD_KINDS:
            for container in pod_spec(doc)["containers"]:
                assert "locust" not in container["image"], doc["metadata"]["name"]
    assert ("ConfigMap", "locustfile") not in EXTERNAL["production"]


# --------------------------------------------------------------------- dev
def test_dev_is_one_replica_of_everything_with_in_memory_backends():
    docs = render_overlay("dev")
    for key, workload in workloads(docs).items():
        assert workload["spec"].get("replicas", 1) == 1, key
    jaeger = the_container(docs, "Deployment/jaeger")
    assert jaeger["args"] == ["--config=/etc/tracelab/jaeger/config.yaml"]
    config = yaml.safe_load(SHARED_CONFIGS["jaeger"].read_text())
    backend = config["extensions"]["jaeger_query"]["storage"]["traces"]
    assert "memory" in config["extensions"]["jaeger_storage"]["backends"][backend]
    tempo = workloads(docs)["Deployment/tempo"]
    data = {v["name"]: v for v in pod_spec(tempo)["volumes"]}["data"]
    assert "emptyDir" in data
    assert yaml.safe_load(SHARED_CONFIGS["tempo"].read_text())["storage"]["trace"]["backend"] == (
        "local"
    )
    assert not by_kind(docs, "PodDisruptionBudget")


def test_the_console_runs_in_dev_only_and_reads_the_clusters_backends():
    dev = render_overlay("dev")
    console = the_container(dev, "Deployment/console")
    env = {item["name"]: item.get("value") for item in console["env"]}
    assert env["SERVICE"] == "console" and env["TRACELAB_CONSOLE_HOST"] == "0.0.0.0"
    assert (env["JAEGER_QUERY_URL"], env["TEMPO_QUERY_URL"]) == (
        f"http://jaeger:{JAEGER_QUERY_PORT}",
        "http://tempo:3200",
    )
    assert env["FRONTEND_URL"] == "http://frontend:8080"
    services = by_kind(dev, "Service")
    # The span metrics, on a port the collector's metrics Service publishes.
    assert env["TRACELAB_SPAN_METRICS_URL"] == (
        f"http://otel-collector-metrics:{SPAN_METRICS_PORT}/metrics"
    )
    metrics_ports = {p["port"] for p in services["otel-collector-metrics"]["spec"]["ports"]}
    assert SPAN_METRICS_PORT in metrics_ports
    assert services["console"]["spec"]["ports"][0]["port"] == CONSOLE_PORT
    frontend = {i["name"]: i.get("value") for i in the_container(dev, "Deployment/frontend")["env"]}
    assert frontend["TRACELAB_CONSOLE_URL"] == f"http://localhost:{CONSOLE_PORT}"
    assert "Deployment/console" not in workloads(production())


COLLECTORS = {
    "dev": ["Deployment/otel-collector"],
    "production": ["Deployment/otel-collector", "Deployment/otel-collector-sampler"],
}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_collector_keeps_its_sending_queue_on_a_volume(overlay):
    """The root filesystem is read-only: the queue directory must be a mounted volume."""
    docs = render_overlay(overlay)
    for kind_name in COLLECTORS[overlay]:
        pod = pod_spec(workloads(docs)[kind_name])
        container = pod["containers"][0]
        queue_dir = container_env(container)["OTELCOL_QUEUE_DIR"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert queue_dir in mounts, f"{kind_name}: nothing mounted at {queue_dir}"
        volumes = {v["name"]: v for v in pod["volumes"]}
        volume = volumes[mounts[queue_dir]]
        assert "emptyDir" in volume or "persistentVolumeClaim" in volume, volume


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_collector_refuses_spans_only_near_its_memory_limit(overlay):
    """memory_limiter refuses data above limit - spike: the spike is at most a quarter."""
    docs = render_overlay(overlay)
    for kind_name in COLLECTORS[overlay]:
        workload = workloads(docs)[kind_name]
        container = pod_spec(workload)["containers"][0]
        # The tiers' own files (loaded after the shared one) leave the limiter alone.
        for arg in container["args"][1:]:
            kind, name, key = mounted_file(workload, container, arg.removeprefix("--config="))
            assert kind == "configMap", arg
            extra = yaml.safe_load(by_kind(docs, "ConfigMap")[name]["data"][key])
            assert "memory_limiter" not in (extra.get("processors") or {}), arg
        limit, spike = memory_limiter_mib(
            load_expanded("otel-collector", k8s_env(overlay, kind_name))
        )
        assert spike <= limit / 4, f"{kind_name}: refuses above {limit - spike} of {limit} MiB"
        memory = k8s_bytes(container["resources"]["limits"]["memory"])
        assert limit * 2**20 < memory, f"{kind_name}: the OOM killer would act first"


# -------------------------------------------------------------- production
def production():
    return render_overlay("production")


def test_production_collector_tiers_meet_all_spans_of_a_trace_before_sampling():
    docs = production()
    tier1 = workloads(docs)["Deployment/otel-collector"]
    tier2 = workloads(docs)["Deployment/otel-collector-sampler"]
    assert tier1["spec"]["replicas"] >= 2 and tier2["spec"]["replicas"] >= 2
    env1 = container_env(pod_spec(tier1)["containers"][0])
    env2 = container_env(pod_spec(tier2)["containers"][0])
    assert env1["TRACES_EXPORTERS"] == "[loadbalancing]"
    assert yaml.safe_load(env2["TRACES_EXPORTERS"]) == ["otlp_grpc/jaeger", "otlp_grpc/tempo"]
    lb = yaml.safe_load(
        configmap_for(docs, "otel-collector-loadbalancing")["data"]["loadbalancing.yaml"]
    )["exporters"]["loadbalancing"]
    assert lb["routing_key"] == "traceID"
    resolver = lb["resolver"]["dns"]
    sampler = by_kind(docs, "Service")[resolver["hostname"]]
    assert sampler["spec"]["clusterIP"] == "None", "the resolver needs one record per pod"
    assert sampler["spec"]["selector"] == {"app.kubernetes.io/name": "otel-collector-sampler"}
    assert int(resolver["port"]) in service_ports(docs, resolver["hostname"])
    tail = yaml.safe_load(
        configmap_for(docs, "otel-collector-tail-sampling")["data"]["tail-sampling.yaml"]
    )
    processors = tail["service"]["pipelines"]["traces"]["processors"]
    assert processors.index("tail_sampling") < processors.index("batch")
    policies = {p["type"] for p in tail["processors"]["tail_sampling"]["policies"]}
    assert {"status_code", "latency", "probabilistic"} <= policies
    # Each tier loads the shared file first, then its own addition.
    for workload, extra in ((tier1, "loadbalancing.yaml"), (tier2, "tail-sampling.yaml")):
        args = pod_spec(workload)["containers"][0]["args"]
        assert args[0] == "--config=/etc/tracelab/otel-collector/config.yaml"
        assert args[1].endswith("/" + extra)
    # Prometheus scrapes tier 1 only (span metrics before sampling).
    assert by_kind(docs, "Service")["otel-collector-metrics"]["spec"]["selector"] == {
        "app.kubernetes.io/name": "otel-collector"
    }


def test_production_jaeger_stores_in_opensearch():
    docs = production()
    jaeger = workloads(docs)["Deployment/jaeger"]
    assert jaeger["spec"]["replicas"] >= 2
    assert jaeger["spec"]["strategy"]["type"] == "RollingUpdate"
    container = pod_spec(jaeger)["containers"][0]
    assert container["args"][0] == "--config=/etc/tracelab/jaeger/config.yaml"
    storage = yaml.safe_load(configmap_for(docs, "jaeger-opensearch")["data"]["opensearch.yaml"])
    backend = storage["extensions"]["jaeger_query"]["storage"]["traces"]
    assert "opensearch" in storage["extensions"]["jaeger_storage"]["backends"][backend]
    assert storage["exporters"]["jaeger_storage_exporter"]["trace_storage"] == backend
    env = container_env(container)
    assert {"OPENSEARCH_URL", "OPENSEARCH_USERNAME", "OPENSEARCH_PASSWORD"} <= set(env)
    url = configmap_for(docs, "tracelab-storage")["data"]["OPENSEARCH_URL"]
    assert url.startswith(("http://", "https://"))


def mounted_file(workload, container, path: str) -> tuple[str, str, str]:
    """(volume kind, object name, key) of the Secret/ConfigMap item mounted at ``path``."""
    volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
    for mount in container["volumeMounts"]:
        directory = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(directory):
            continue
        filename = path[len(directory) :]
        volume = volumes[mount["name"]]
        for kind, name_key in (("secret", "secretName"), ("configMap", "name")):
            if kind in volume:
                source = volume[kind]
                items = {i["path"]: i["key"] for i in source.get("items", [])}
                assert not items or filename in items, f"{path}: not among the mounted items"
                return kind, source[name_key], items.get(filename, filename)
    raise AssertionError(f"nothing mounts {path} from a Secret or ConfigMap")


def test_production_jaeger_verifies_opensearch_with_the_users_ca():
    """https to the chart's demo CA needs that CA: none of the system roots signs it."""
    docs = production()
    jaeger = workloads(docs)["Deployment/jaeger"]
    container = pod_spec(jaeger)["containers"][0]
    env = k8s_env("production", "Deployment/jaeger")
    text = configmap_for(docs, "jaeger-opensearch")["data"]["opensearch.yaml"]
    storage = yaml.safe_load(expand_otel(text, env))
    (backend,) = [
        b["opensearch"] for b in storage["extensions"]["jaeger_storage"]["backends"].values()
    ]
    assert backend["server_urls"][0].startswith("https://"), "OpenSearch over plain HTTP"
    tls = backend.get("tls") or {}
    # In Jaeger's OpenSearch client `insecure` also means: do not verify.
    assert not tls.get("insecure") and not tls.get("insecure_skip_verify"), tls
    assert tls.get("ca_file"), "no CA: the demo certificate fails verification"
    kind, name, key = mounted_file(jaeger, container, tls["ca_file"])
    assert (kind, name, key) == ("secret", "tracelab-opensearch-ca", "ca.crt")
    assert ("Secret", name) in EXTERNAL["production"]
    guide = (ROOT / "docs" / "deploy.md").read_text()
    assert f"create secret generic {name}" in guide and f"--from-file={key}=" in guide
    # The upstream chart's demo certificate is issued to node-0.example.com only.
    if "opensearch-cluster-master." in backend["server_urls"][0]:
        assert tls["server_name_override"] == "node-0.example.com"


def test_production_tempo_stores_blocks_in_object_storage():
    docs = production()
    tempo = workloads(docs)["Deployment/tempo"]
    args = pod_spec(tempo)["containers"][0]["args"]
    assert "-storage.trace.backend=s3" in args
    storage = configmap_for(docs, "tracelab-storage")["data"]
    env = container_env(pod_spec(tempo)["containers"][0])
    for flag, variable in (("endpoint", "TEMPO_S3_ENDPOINT"), ("bucket", "TEMPO_S3_BUCKET")):
        assert f"-storage.trace.s3.{flag}=$({variable})" in args
        assert env[variable]["configMapKeyRef"]["key"] in storage
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(env)
    data = {v["name"]: v for v in pod_spec(tempo)["volumes"]}["data"]
    assert data == {"name": "data", "persistentVolumeClaim": {"claimName": "tempo-data"}}


def test_production_disruption_budgets_cover_the_replicated_tiers():
    docs = production()
    budgets = by_kind(docs, "PodDisruptionBudget")
    replicated = {
        workload["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]: workload
        for key, workload in workloads(docs).items()
        if workload["spec"].get("replicas", 1) >= 2 and "locust" not in key
    }
    covered = {
        budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for budget in budgets.values()
    }
    assert covered == set(replicated), "one PodDisruptionBudget per replicated tier, no more"
    for budget in budgets.values():
        assert budget["spec"]["minAvailable"] == 1
    for name in SERVICE_PORTS:
        assert replicated[name]["spec"]["replicas"] >= 2


def test_production_keeps_data_on_persistent_volumes():
    docs = production()
    claims = by_kind(docs, "PersistentVolumeClaim")
    assert {"tempo-data", "prometheus-data", "loki-data"} <= set(claims)
    loki = workloads(docs)["Deployment/loki"]
    data = {v["name"]: v for v in pod_spec(loki)["volumes"]}["data"]
    assert data == {"name": "data", "persistentVolumeClaim": {"claimName": "loki-data"}}
    postgres = workloads(docs)["StatefulSet/postgres"]
    (template,) = postgres["spec"]["volumeClaimTemplates"]
    assert k8s_bytes(template["spec"]["resources"]["requests"]["storage"]) >= 10 * 2**30


def test_production_grafana_has_no_anonymous_access():
    env = container_env(the_container(production(), "Deployment/grafana"))
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_SECURITY_ADMIN_PASSWORD"]["secretKeyRef"]["name"] == "tracelab-secrets"


def cpu_cores(value: str) -> float:
    return float(value[:-1]) / 1000 if str(value).endswith("m") else float(value)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grafana_gets_at_least_its_documented_minimum(overlay):
    resources = the_container(render_overlay(overlay), "Deployment/grafana")["resources"]
    assert k8s_bytes(resources["limits"]["memory"]) >= GRAFANA_MINIMUM["memory"]
    assert cpu_cores(resources["limits"]["cpu"]) >= GRAFANA_MINIMUM["cpu"]
    if overlay == "production":  # reserved, not only allowed
        assert k8s_bytes(resources["requests"]["memory"]) >= GRAFANA_MINIMUM["memory"]
        assert cpu_cores(resources["requests"]["cpu"]) >= GRAFANA_MINIMUM["cpu"]


# -------------------------------------------------- Tempo rollouts lose nothing
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
# Scheduling, volume attach, image pull and WAL replay of a new Tempo pod:
# an allowance on top of what its own spec says about stopping and starting.
TEMPO_START_ALLOWANCE_S = 300


def seconds(duration: str) -> float:
    """A Go duration (``15m``, ``1m30s``) in seconds."""
    parts = _DURATION.findall(str(duration))
    assert parts and "".join(n + u for n, u in parts) == str(duration), duration
    return sum(float(n) * _SECONDS[u] for n, u in parts)


def tempo_outage_s(docs) -> float:
    """The longest a Recreate rollout of Tempo takes: old pod stopped, new one live."""
    tempo = workloads(docs)["Deployment/tempo"]
    container = pod_spec(tempo)["containers"][0]
    live = container["livenessProbe"]
    return (
        pod_spec(tempo)["terminationGracePeriodSeconds"]
        + live.get("initialDelaySeconds", 0)
        + live["periodSeconds"] * live["failureThreshold"]
        + TEMPO_START_ALLOWANCE_S
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_tempo_rollout_costs_no_span(overlay):
    """Tempo is one pod (monolithic, one RWO volume): its collectors hold the spans meanwhile."""
    docs = render_overlay(overlay)
    tempo = workloads(docs)["Deployment/tempo"]
    assert tempo["spec"]["replicas"] == 1 and tempo["spec"]["strategy"]["type"] == "Recreate"
    exporting = 0
    for key in COLLECTORS[overlay]:
        workload = workloads(docs)[key]
        container = pod_spec(workload)["containers"][0]
        config = collector_config(docs, workload, container, environment(docs, container))
        used = {e for p in config["service"]["pipelines"].values() for e in p.get("exporters", [])}
        if "otlp_grpc/tempo" not in used:
            continue
        exporting += 1
        exporter = config["exporters"]["otlp_grpc/tempo"]
        retry, queue = exporter["retry_on_failure"], exporter["sending_queue"]
        assert retry["enabled"] and queue["enabled"], key
        horizon = seconds(retry["max_elapsed_time"])
        assert horizon >= tempo_outage_s(docs), f"{key}: retries {horizon:.0f} s only"
        # On disk, on a volume: a collector restarted meanwhile still has them.
        storage = queue["storage"]
        assert (
            storage.split("/")[0] == "file_storage" and storage in config["service"]["extensions"]
        )
        directory = config["extensions"][storage]["directory"]
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert directory in mounts, f"{key}: the queue directory {directory} is not a volume"
    assert exporting, "no collector exports to Tempo"
    guide = (ROOT / "docs" / "deploy.md").read_text()
    assert "Tempo distributed" in guide and "ReadWriteOnce" in guide


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_gets_the_instrumentation_switch_the_launcher_reads(overlay):
    docs = render_overlay(overlay)
    value = configmap_for(docs, "tracelab-service-env")["data"][launch.MODE_VAR]
    assert launch.mode({launch.MODE_VAR: value}) == launch.PROGRAMMATIC
    for name in SERVICE_PORTS:
        refs = the_container(docs, f"Deployment/{name}")["envFrom"]
        assert any(
            ref.get("configMapRef", {}).get("name", "").startswith("tracelab-service-env")
            for ref in refs
        )
