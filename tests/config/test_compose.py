"""docker-compose.yml, checked offline: schema, references, pins, health, limits.

The e2e tests of tests/compose run the stack where a Docker engine answers;
these checks run everywhere, so a mistake in the Compose file fails
``make test`` on a machine without Docker too.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import check_jsonschema
import pytest
import yaml

from services.common import exporters, launch
from tests.config.helpers import (
    COMPOSE_FILE,
    CONSOLE_PORT,
    DASHBOARDS_DIR,
    GRAFANA_MINIMUM,
    LOCUSTFILE,
    PROMETHEUS_CONFIG,
    ROOT,
    SERVICE_PORTS,
    SHARED_CONFIGS,
    SPAN_METRICS_PORT,
    bind_mounts,
    compose,
    compose_bytes,
    compose_raw,
    compose_variables,
    dotenv,
    env_of,
    envsubst_references,
    expand_otel,
    host_port,
    jaeger_monitor_prometheus,
    listeners,
    load_expanded,
    locust_files,
    memory_limiter_mib,
    named_volumes,
    otel_env_references,
    parse_env_file,
    published_ports,
    readiness_path,
    span_metrics_scrape_port,
    tool,
)

# Under 2.5 GiB, against the OpenTelemetry Demo's 6 GB. The first target read
# 2 GB decimal (1,907 MiB); the console added 128 MiB (2,008, under 2 GiB);
# the Loki log store 160 MiB more, Grafana's documented minimum 320 MiB more.
MEMORY_BUDGET_BYTES = 2560 * 1024**2
# Everything built from ./Dockerfile: the five services and the console.
IMAGE_SERVICES = (*SERVICE_PORTS, "console")
BUILD_ARGS = ("PYTHON_IMAGE", "UV_IMAGE", "NODE_IMAGE")
# Variables Go's runtime reads, not the config files.
RUNTIME_VARIABLES = {"GOMEMLIMIT"}
# Where the third-party components without a shared config listen (their
# images' defaults, which the Compose file does not change).
# Scrape names of the production overlay's extra tier (the tail-sampling
# collectors): no such thing in Compose, the name does not resolve there.
PRODUCTION_ONLY_DNS_NAMES = {"otel-collector-sampler"}
FIXED_PORTS = {"postgres": {5432}, "prometheus": {9090}, "grafana": {3000}, "locust": {8089}}


def versions() -> dict[str, str]:
    return parse_env_file(ROOT / "infra" / "versions.env")


def services() -> dict[str, dict]:
    return compose()["services"]


def one_shot(name: str) -> bool:
    """A job that runs to completion (restart "no", awaited as completed)."""
    return services()[name].get("restart") == "no"


def long_running() -> list[str]:
    return [name for name in services() if not one_shot(name)]


# ------------------------------------------------------------------ schema
def test_compose_file_matches_the_compose_specification():
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_key_is_a_compose_key():
    """The vendored schema cannot reject unknown service keys; check them here."""
    schema_path = (
        Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    )
    defs = json.loads(schema_path.read_text())["$defs"]
    known = {
        key
        for definition in ("service", "container_spec", "workload_spec")
        for key in defs[definition].get("properties", {})
    }
    for name, service in compose_raw()["services"].items():
        unknown = {key for key in service if key not in known and not key.startswith("x-")}
        assert not unknown, f"service {name}: unknown keys {sorted(unknown)}"


# --------------------------------------------------------------- variables
def test_every_variable_is_defined_in_dotenv_and_every_dotenv_entry_is_used():
    used = compose_variables(COMPOSE_FILE.read_text())
    defined = set(dotenv())
    assert used - defined == set(), f"used in docker-compose.yml, missing in .env: {used - defined}"
    # COMPOSE_PROJECT_NAME is read by Compose itself.
    unused = defined - used - {"COMPOSE_PROJECT_NAME"}
    assert not unused, f".env entries nothing uses: {sorted(unused)}"


def test_project_name_agrees():
    assert compose_raw()["name"] == dotenv()["COMPOSE_PROJECT_NAME"] == "tracelab"


# ------------------------------------------------------------------ images
_PINNED = re.compile(r"^(?P<repo>[a-z0-9._/-]+(?::\d+)?(?:/[a-z0-9._-]+)*):(?P<tag>[\w.-]+)$")


@pytest.mark.parametrize("name", sorted(compose_raw()["services"]))
def test_image_is_pinned_to_an_exact_tag(name):
    image = services()[name]["image"]
    match = _PINNED.match(image)
    assert match, f"{name}: image {image!r} has no tag"
    tag = match.group("tag")
    assert tag != "latest" and not re.fullmatch(r"v?\d+", tag), (
        f"{name}: {image!r} is not an exact version"
    )
    assert re.search(r"\d+\.\d+", tag), f"{name}: {image!r} tag names no version"


def test_every_image_comes_from_dotenv():
    for name, service in compose_raw()["services"].items():
        assert re.fullmatch(r"\$\{[A-Z_]+\}", service["image"]), (
            f"{name}: write the image as ${{VAR}} and pin it in .env"
        )


def tag_of(image: str) -> str:
    return image.rpartition(":")[2]


def test_versions_agree_with_the_local_build():
    env = dotenv()
    pins = versions()
    builder = yaml.safe_load((ROOT / "infra" / "otel-collector" / "builder.yaml").read_text())
    otelcol = tag_of(env["OTELCOL_IMAGE"])
    assert env["OTELCOL_IMAGE"].startswith("otel/opentelemetry-collector-contrib:")
    assert otelcol == builder["dist"]["version"] == pins["OTELCOL_CONTRIB_VERSION"]
    assert otelcol == pins["OTELCOL_CORE_VERSION"]
    # uv: the image that installs the lock is the uv the Makefile installs.
    assert tag_of(env["UV_IMAGE"]) == pins["UV_VERSION"]


# Jaeger publishes v1.x.y and v2.z.w from one commit; images carry the v2
# number, the Go module (built locally) the v1 one. From the project's
# CHANGELOG ("v1.76.0 / v2.13.0"). Extend when infra/versions.env moves.
JAEGER_V1_TO_V2 = {"v1.76.0": "2.13.0"}


def test_jaeger_image_is_the_release_of_the_locally_built_module():
    module = versions()["JAEGER_MODULE_VERSION"]
    assert module in JAEGER_V1_TO_V2, f"add the v2 tag released with {module} to this table"
    assert dotenv()["JAEGER_IMAGE"] == f"jaegertracing/jaeger:{JAEGER_V1_TO_V2[module]}"


def locked_version(package: str) -> str:
    """The version of ``package`` pinned in uv.lock."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (version,) = [p["version"] for p in lock["package"] if p["name"] == package]
    return version


def test_locust_image_runs_the_locked_locust():
    """The locustfile is tested with the lock's Locust: the image must be that release."""
    assert dotenv()["LOCUST_IMAGE"] == f"locustio/locust:{locked_version('locust')}"


def test_python_and_postgres_majors_match_the_project():
    env = dotenv()
    requires = re.search(r'requires-python = ">=(\d+\.\d+)"', (ROOT / "pyproject.toml").read_text())
    assert requires, "pyproject.toml has no requires-python"
    assert tag_of(env["PYTHON_IMAGE"]).startswith(requires.group(1) + ".")
    local_major = int(versions()["POSTGRES_MAJOR_VERSION"])
    image_major = int(tag_of(env["POSTGRES_IMAGE"]).split(".")[0])
    # The schema and seed run on both: the image may be newer, never older.
    assert image_major >= local_major


def test_dockerfile_defaults_equal_the_dotenv_build_args():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for arg in BUILD_ARGS:
        match = re.search(rf"^ARG {arg}=(\S+)$", dockerfile, re.MULTILINE)
        assert match, f"Dockerfile has no ARG {arg}=..."
        assert match.group(1) == dotenv()[arg]
    for name in IMAGE_SERVICES:
        build = services()[name]["build"]
        assert build["args"] == {arg: dotenv()[arg] for arg in BUILD_ARGS}
        assert build["context"] == "." and build["dockerfile"] == "Dockerfile"


# ------------------------------------------------- health, deps, restart
@pytest.mark.parametrize("name", sorted(compose_raw()["services"]))
def test_health_restart_and_memory_limit(name):
    service = services()[name]
    limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
    assert "memory" in limits, f"{name} has no memory limit"
    assert "restart" in service, f"{name} has no restart policy"
    if one_shot(name):
        assert "ports" not in service, f"one-shot {name} publishes ports"
        return
    assert service["restart"] in ("unless-stopped", "always", "on-failure"), name
    check = service.get("healthcheck")
    assert check and not check.get("disable"), f"{name} has no healthcheck"
    test = check["test"]
    assert isinstance(test, list) and test[0] == "CMD", (
        f"{name}: exec-form healthcheck (CMD), the distroless images have no shell"
    )
    for key in ("interval", "timeout", "retries", "start_period"):
        assert key in check, f"{name}: healthcheck without {key}"


def test_depends_on_waits_for_health_or_completion():
    for name, service in services().items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services(), f"{name} depends on unknown {dependency}"
            condition = spec["condition"]
            if one_shot(dependency):
                assert condition == "service_completed_successfully", (name, dependency)
            else:
                assert condition == "service_healthy", (name, dependency)


def test_every_one_shot_job_is_awaited_by_a_long_running_service():
    """`docker compose up --wait` treats an exited job as failed unless one is."""
    for job in (name for name in services() if one_shot(name)):
        waiting = [
            name
            for name in long_running()
            if (services()[name].get("depends_on") or {}).get(job, {}).get("condition")
            == "service_completed_successfully"
        ]
        assert waiting, f"nothing waits for one-shot {job}"


def test_dependency_graph_has_no_cycle():
    graph = {name: set(service.get("depends_on") or {}) for name, service in services().items()}
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, f"cycle: {' -> '.join((*trail, name))}"
        if name in done:
            return
        for dependency in graph[name]:
            visit(dependency, (*trail, name))
        done.add(name)

    for name in graph:
        visit(name, ())


def test_grafana_may_use_its_documented_minimum():
    limit = services()["grafana"]["deploy"]["resources"]["limits"]["memory"]
    assert compose_bytes(limit) >= GRAFANA_MINIMUM["memory"]


def test_memory_limits_add_up_to_less_than_the_budget():
    total = sum(
        compose_bytes(service["deploy"]["resources"]["limits"]["memory"])
        for service in services().values()
    )
    assert total < MEMORY_BUDGET_BYTES, f"{total / 2**20:.0f} MiB of limits"
    # The header of docker-compose.yml and docs/deploy.md state the sum.
    stated = f"{total // 2**20:,} MiB"
    assert stated in COMPOSE_FILE.read_text(), f"update the sum in docker-compose.yml: {stated}"
    assert stated in (ROOT / "docs" / "deploy.md").read_text(), f"update docs/deploy.md: {stated}"


# ---------------------------------------------------------------- ports
def test_ports_come_from_dotenv_are_unique_and_local():
    seen: dict[int, str] = {}
    for name, service in compose_raw()["services"].items():
        for entry in service.get("ports", []):
            assert re.fullmatch(r"127\.0\.0\.1:\$\{[A-Z_]+_PORT\}:\d+", entry), (
                f"{name}: publish as 127.0.0.1:${{X_PORT}}:<port> ({entry!r})"
            )
    for name, service in services().items():
        for ip, host, _ in published_ports(service):
            assert ip == "127.0.0.1"
            assert 1 <= host <= 65535
            assert host not in seen, f"host port {host}: {seen.get(host)} and {name}"
            seen[host] = name


def test_services_listen_on_their_documented_port_and_publish_it():
    for name, port in SERVICE_PORTS.items():
        service = services()[name]
        env = env_of(service)
        assert env["SERVICE"] == name
        assert env["PORT"] == str(port)
        assert env["BIND_HOST"] == "0.0.0.0"
        assert [container for _, _, container in published_ports(service)] == [port]
        probe = f"http://127.0.0.1:{port}{readiness_path(name)}"
        assert probe in " ".join(service["healthcheck"]["test"])
        assert (ROOT / "services" / name / "__main__.py").is_file()


def component_env(name: str) -> dict[str, str]:
    return env_of(services()[name])


def resolved_listeners(name: str):
    return listeners(name, component_env(name))


@pytest.mark.parametrize("name", sorted(SHARED_CONFIGS))
def test_backends_listen_on_every_interface_on_the_ports_they_publish(name):
    """127.0.0.1 inside a container is unreachable from the others."""
    found = resolved_listeners(name)
    assert found.bind_hosts == {"0.0.0.0"}, f"{name} binds {sorted(found.bind_hosts)}"
    for _, _, container in published_ports(services()[name]):
        assert container in found.ports, f"{name} publishes {container}, listens on {found.ports}"


def test_healthchecks_probe_ports_the_backends_listen_on():
    for name in SHARED_CONFIGS:
        url = services()[name]["healthcheck"]["test"][-1]
        _, port = host_port(url)
        assert port in resolved_listeners(name).ports, f"{name} healthcheck probes {url}"


def test_environment_variables_are_ones_the_config_files_read():
    for name in ("otel-collector", "jaeger"):
        read = set(otel_env_references(SHARED_CONFIGS[name].read_text()))
        unknown = set(component_env(name)) - read - RUNTIME_VARIABLES
        assert not unknown, f"{name}: {sorted(unknown)} are not read by {SHARED_CONFIGS[name]}"
    for name in ("tempo", "loki"):
        read = set(envsubst_references(SHARED_CONFIGS[name].read_text()))
        unknown = set(component_env(name)) - read - RUNTIME_VARIABLES
        assert not unknown, f"{name}: {sorted(unknown)} are not read by the {name} config"


def assert_reaches(endpoint: str, wanted_component: str | None = None) -> None:
    """``endpoint`` names a Compose service (or alias) and a port it listens on."""
    host, port = host_port(endpoint)
    owners = {
        name
        for name, service in services().items()
        if host == name
        or host in (service.get("networks", {}).get("default", {}) or {}).get("aliases", [])
    }
    assert owners, f"{endpoint}: no service or alias {host!r}"
    (owner,) = owners
    if wanted_component:
        assert owner == wanted_component, f"{endpoint} reaches {owner}, not {wanted_component}"
    if owner in SHARED_CONFIGS:
        assert port in resolved_listeners(owner).ports, f"{endpoint}: {owner} is not on {port}"
    elif owner in SERVICE_PORTS:
        wanted = SERVICE_PORTS[owner]
        assert port == wanted, f"{endpoint}: {owner} listens on {wanted}"
    else:
        assert port in FIXED_PORTS[owner], f"{endpoint}: {owner} does not serve {port}"


def test_service_urls_reach_the_right_service_and_port():
    for name in SERVICE_PORTS:
        for key, value in component_env(name).items():
            # Browser-facing links point at published host ports, checked below.
            if key.endswith("_URL") and key != "TRACELAB_CONSOLE_URL":
                target = key.removesuffix("_URL").lower().replace("db_service", "db")
                if key == "DATABASE_URL":
                    assert_reaches(value, "postgres")
                else:
                    assert_reaches(value, target)
        assert_reaches(component_env(name)["OTEL_EXPORTER_OTLP_ENDPOINT"], "otel-collector")


def test_browser_links_use_the_published_ports():
    frontend = component_env("frontend")
    assert frontend["TRACELAB_CONSOLE_URL"] == f"http://localhost:{dotenv()['CONSOLE_PORT']}"
    assert not {"JAEGER_UI_URL", "GRAFANA_URL"} & set(frontend)  # the demo links to the console
    console = component_env("console")
    assert console["JAEGER_UI_URL"] == f"http://localhost:{dotenv()['JAEGER_UI_PORT']}"
    assert console["GRAFANA_URL"] == f"http://localhost:{dotenv()['GRAFANA_PORT']}"


def test_the_admin_token_is_a_generated_secret_never_committed():
    secret = compose()["secrets"]["admin_token"]["file"]
    assert secret.startswith("./.run/"), "generated into the (ignored) run directory"
    assert ".run/" in (ROOT / ".gitignore").read_text()
    assert "compose-up" in (ROOT / "mk" / "deploy.mk").read_text()
    for name in IMAGE_SERVICES:
        service = services()[name]
        assert [s if isinstance(s, str) else s["source"] for s in service["secrets"]] == [
            "admin_token"
        ]
        assert env_of(service)["TRACELAB_ADMIN_TOKEN_FILE"] == "/run/secrets/admin_token"
    assert "TRACELAB_ADMIN_TOKEN" not in dotenv()


def test_the_console_reads_every_backend_and_service_of_the_stack():
    console = services()["console"]
    env = component_env("console")
    assert env["SERVICE"] == "console" and "command" not in console  # the image's CMD runs it
    assert (ROOT / "tracelab" / "console" / "__main__.py").is_file()
    assert env["TRACELAB_CONSOLE_HOST"] == "0.0.0.0"
    assert env["TRACELAB_CONSOLE_PORT"] == str(CONSOLE_PORT)
    assert [container for _, _, container in published_ports(console)] == [CONSOLE_PORT]
    probe = f"http://127.0.0.1:{CONSOLE_PORT}{readiness_path('console')}"
    assert probe in " ".join(console["healthcheck"]["test"])
    assert_reaches(env["JAEGER_QUERY_URL"], "jaeger")
    assert_reaches(env["TEMPO_QUERY_URL"], "tempo")
    assert_reaches(env["FRONTEND_URL"], "frontend")
    assert_reaches(env["TRACELAB_SPAN_METRICS_URL"], "otel-collector")
    assert env["TRACELAB_SPAN_METRICS_URL"].endswith(f":{SPAN_METRICS_PORT}/metrics")
    for name in ("gateway", "auth", "user", "db"):
        var = "DB_SERVICE_URL" if name == "db" else f"{name.upper()}_URL"
        assert_reaches(env[var], name)
    # The browser reaches it by its published port: that Host is allowed (DNS rebinding guard).
    published = dotenv()["CONSOLE_PORT"]
    allowed = env["TRACELAB_CONSOLE_ALLOWED_HOSTS"].split(",")
    assert {f"localhost:{published}", f"127.0.0.1:{published}"} <= set(allowed)


def test_collector_exports_to_jaeger_and_tempo_where_they_listen():
    env = component_env("otel-collector")
    config = yaml.safe_load(SHARED_CONFIGS["otel-collector"].read_text())
    exporters = yaml.safe_load(env["TRACES_EXPORTERS"])
    assert set(exporters) == {"otlp_grpc/jaeger", "otlp_grpc/tempo"}
    assert set(exporters) <= set(config["exporters"])
    assert_reaches(env["JAEGER_OTLP_ENDPOINT"], "jaeger")
    assert_reaches(env["TEMPO_OTLP_ENDPOINT"], "tempo")
    # The OTLP ports the backends listen on are their gRPC receivers.
    jaeger = yaml.safe_load(
        expand_otel(SHARED_CONFIGS["jaeger"].read_text(), component_env("jaeger"))
    )
    grpc = host_port(jaeger["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"])[1]
    assert host_port(env["JAEGER_OTLP_ENDPOINT"])[1] == grpc


def test_services_export_logs_which_the_collector_sends_to_loki():
    """Logs beside traces: service -> collector logs pipeline -> Loki's OTLP endpoint."""
    for name in SERVICE_PORTS:
        env = component_env(name)
        assert (env["OTEL_TRACES_EXPORTER"], env["OTEL_LOGS_EXPORTER"]) == ("tracelab",) * 2, name
        assert exporters.exporter_name(exporters.LOGS, env) == exporters.DIRECT_EXPORTER
    env = component_env("otel-collector")
    config = yaml.safe_load(expand_otel(SHARED_CONFIGS["otel-collector"].read_text(), env))
    pipeline = config["service"]["pipelines"]["logs"]
    assert pipeline["receivers"] == ["otlp"]
    assert pipeline["processors"][0] == "memory_limiter" and "batch" in pipeline["processors"]
    assert pipeline["exporters"] == ["otlp_http/loki"]
    endpoint = config["exporters"]["otlp_http/loki"]["endpoint"]
    assert endpoint == env["LOKI_OTLP_ENDPOINT"]
    assert endpoint.endswith("/otlp"), "Loki's OTLP base path (the exporter adds /v1/logs)"
    assert_reaches(endpoint, "loki")
    assert services()["otel-collector"]["depends_on"]["loki"]["condition"] == "service_healthy"


def test_loki_keeps_its_data_on_a_volume_and_answers_ready():
    loki = load_expanded("loki", component_env("loki"))
    data_dir = loki["common"]["path_prefix"]
    assert f"loki-data:{data_dir}" in services()["loki"]["volumes"]
    for path in (
        loki["common"]["storage"]["filesystem"]["chunks_directory"],
        loki["compactor"]["working_directory"],
    ):
        assert path.startswith(data_dir + "/"), path
    assert loki["limits_config"]["allow_structured_metadata"] is True  # trace_id, span_id
    assert loki["schema_config"]["configs"][-1]["schema"] == "v13"
    assert "-config.expand-env=true" in services()["loki"]["command"]
    check = services()["loki"]["healthcheck"]["test"]
    assert check[-1].endswith(":3100/ready")


def test_jaegers_monitor_tab_reads_the_span_metrics_prometheus_scrapes():
    url = jaeger_monitor_prometheus(component_env("jaeger"))
    assert url, "Compose runs Prometheus: the Monitor tab must be on"
    assert_reaches(url, "prometheus")
    port = span_metrics_scrape_port(component_env("otel-collector"))
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    scraped = [
        (name, dns["port"])
        for job in config["scrape_configs"]
        for dns in job.get("dns_sd_configs", [])
        for name in dns["names"]
    ]
    assert scraped and any(p == port for _, p in scraped), f"nothing scrapes :{port}"
    for name, scraped_port in scraped:
        if scraped_port == port:
            assert_reaches(f"{name}:{port}", "otel-collector")


def test_jaegers_monitor_tab_is_off_locally():
    """No Prometheus in local mode: the shared file's defaults leave the tab off."""
    assert jaeger_monitor_prometheus({}) is None


def test_tempo_remote_writes_to_prometheus_which_accepts_it():
    env = component_env("tempo")
    assert_reaches(env["PROMETHEUS_REMOTE_WRITE_URL"], "prometheus")
    command = services()["prometheus"]["command"]
    assert "--web.enable-remote-write-receiver" in command
    assert "--enable-feature=exemplar-storage" in command


def test_prometheus_scrapes_what_exists():
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                if not target.startswith("localhost:"):
                    assert_reaches(target)
        for dns in job.get("dns_sd_configs", []):
            for hostname in dns["names"]:
                if hostname in PRODUCTION_ONLY_DNS_NAMES:
                    continue
                component = hostname.removesuffix("-metrics")
                assert_reaches(f"{hostname}:{dns['port']}", component)


# ------------------------------------------------------------ mounts, files
def test_every_bind_mount_source_exists_and_is_read_only():
    for name, service in services().items():
        for source, target, read_only in bind_mounts(service):
            assert read_only, f"{name}: mount {source} read-only"
            assert source.exists(), f"{name} mounts missing {source} at {target}"
            assert source.is_relative_to(ROOT), f"{name} mounts {source} from outside the repo"


def test_locust_runs_the_project_locustfile_with_the_journeys_it_imports():
    """The official Locust image gets the locustfile and each module of ours it imports.

    Each is mounted at its package path under PYTHONPATH (``tracelab/journeys.py``
    at ``$PYTHONPATH/tracelab/journeys.py``), so the locustfile's imports work.
    """
    locust = services()["locust"]
    pythonpath = env_of(locust)["PYTHONPATH"]
    mounted = {}
    for source, target, _ in bind_mounts(locust):
        assert target.startswith(pythonpath + "/"), target
        relative = Path(target).relative_to(pythonpath)
        files = [source] if source.is_file() else list(source.rglob("*.py"))
        for file in files:
            mounted[relative / file.relative_to(source) if source.is_dir() else relative] = file
    for needed in locust_files():
        assert mounted.get(needed) == ROOT / needed, f"{needed} is not mounted for Locust"
    command = locust["command"]
    path = Path(command[command.index("-f") + 1])
    assert mounted[path.relative_to(pythonpath)] == ROOT / LOCUSTFILE


@pytest.mark.parametrize("name", sorted(SHARED_CONFIGS))
def test_backends_run_the_shared_config_files(name):
    """The very files of infra/ the local stack runs with, mounted and named on the command line."""
    service = services()[name]
    mounts = {source: target for source, target, _ in bind_mounts(service)}
    assert SHARED_CONFIGS[name].resolve() in mounts, f"{name} does not mount {SHARED_CONFIGS[name]}"
    target = mounts[SHARED_CONFIGS[name].resolve()]
    assert any(target in argument for argument in service["command"]), (
        f"{name} mounts its config at {target} but does not load it"
    )


def test_grafana_and_prometheus_mount_their_provisioning():
    grafana = {target: source for source, target, _ in bind_mounts(services()["grafana"])}
    home = env_of(services()["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    directory, _, filename = home.rpartition("/")
    assert grafana[directory] == DASHBOARDS_DIR.resolve()
    assert (DASHBOARDS_DIR / filename).is_file()
    for kind in ("datasources", "dashboards"):
        source = grafana[f"/etc/grafana/provisioning/{kind}"]
        assert source == (ROOT / "infra" / "grafana" / "provisioning" / kind).resolve()
    prometheus = {target: source for source, target, _ in bind_mounts(services()["prometheus"])}
    assert prometheus["/etc/prometheus/prometheus.yml"] == PROMETHEUS_CONFIG.resolve()


def test_postgres_initialises_from_the_shared_schema_and_seed():
    mounts = {target: source for source, target, _ in bind_mounts(services()["postgres"])}
    init = sorted((t, s) for t, s in mounts.items() if t.startswith("/docker-entrypoint-initdb.d/"))
    assert [source.name for _, source in init] == ["schema.sql", "seed.sql"], (
        "the schema must run before the seed"
    )
    env = env_of(services()["postgres"])
    database_url = env_of(services()["db"])["DATABASE_URL"]
    assert database_url == (
        f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@postgres:5432/"
        f"{env['POSTGRES_DB']}"
    )


def test_named_volumes_are_declared_and_used():
    declared = set(compose()["volumes"])
    used = {volume for service in services().values() for volume in named_volumes(service)}
    assert used == declared, f"declared {sorted(declared)}, used {sorted(used)}"


def test_volume_init_prepares_the_distroless_backends():
    job = services()["volume-init"]
    assert "healthcheck-tools:/tools" in job["volumes"]
    assert "tempo-data:/tempo-data" in job["volumes"]
    assert "loki-data:/loki-data" in job["volumes"]
    script = job["command"][-1]
    assert "cp /bin/busybox /tools/busybox" in script
    assert "chown -R 10001:10001 /tempo-data /loki-data /otelcol-queue" in script
    assert "otelcol-queue:/otelcol-queue" in job["volumes"]
    for name in ("otel-collector", "tempo", "loki"):
        service = services()[name]
        assert "healthcheck-tools:/tools:ro" in service["volumes"]
        assert service["healthcheck"]["test"][1] == "/tools/busybox"
        assert service["depends_on"]["volume-init"]["condition"] == (
            "service_completed_successfully"
        )
    assert "tempo-data:/var/tempo" in services()["tempo"]["volumes"]
    assert "loki-data:/var/loki" in services()["loki"]["volumes"]


def test_collector_queue_lives_on_a_volume():
    collector = services()["otel-collector"]
    queue_dir = env_of(collector)["OTELCOL_QUEUE_DIR"]
    assert f"otelcol-queue:{queue_dir}" in collector["volumes"]


@pytest.mark.parametrize("mode", ["local", "compose"])
def test_collector_refuses_spans_only_near_its_memory_limit(mode):
    """memory_limiter refuses data above limit - spike: the spike is at most a quarter."""
    # The local stack sets no memory variable (tracelab/stack/config.py): defaults.
    service = compose()["services"]["otel-collector"]
    env = env_of(service) if mode == "compose" else {}
    limit, spike = memory_limiter_mib(load_expanded("otel-collector", env))
    assert spike <= limit / 4, f"{mode}: refuses spans above {limit - spike} of {limit} MiB"
    if mode == "compose":
        container = compose_bytes(service["deploy"]["resources"]["limits"]["memory"])
        assert limit * 2**20 < container, "the limiter must act before the OOM killer"


def test_every_service_gets_the_instrumentation_switch_the_launcher_reads():
    """``TRACELAB_INSTRUMENTATION`` from .env (programmatic) reaches each of the five."""
    for name in SERVICE_PORTS:
        value = env_of(services()[name])[launch.MODE_VAR]
        assert launch.mode({launch.MODE_VAR: value}) == launch.PROGRAMMATIC
    assert "${" + launch.MODE_VAR + "}" in compose_raw()["x-service-env"][launch.MODE_VAR]
