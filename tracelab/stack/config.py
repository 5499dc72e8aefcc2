"""Ports, URLs and environments of the local stack's components.

Every port is overridable through an environment variable. The collector and
Jaeger read the SAME variables in their config files (``infra/*``), so the
runner only has to pass them on; services get ``PORT`` and the URLs of the
services they call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tracelab.stack.errors import StackError
from tracelab.stack.ports import LOCALHOST, find_free_port, is_port_free

POSTGRES = "postgres"
COLLECTOR = "otel-collector"
JAEGER = "jaeger"
INFRA = (POSTGRES, COLLECTOR, JAEGER)
# Start order within the services stage does not matter (they start together);
# stop order is the reverse of this tuple.
SERVICES = ("db", "auth", "user", "gateway", "frontend")
# The lab's own tooling: the trace explorer, started beside the services.
CONSOLE = "console"
TOOLING = (CONSOLE,)
ALL_COMPONENTS = INFRA + SERVICES + TOOLING
# Config files of the infrastructure programs, relative to the checkout.
INFRA_CONFIGS = {
    COLLECTOR: Path("infra/otel-collector/config.yaml"),
    JAEGER: Path("infra/jaeger/config.yaml"),
}

POSTGRES_PORT_VAR = "TRACELAB_POSTGRES_PORT"
POSTGRES_DEFAULT_PORT = 5432
DB_NAME = DB_USER = DB_PASSWORD = "tracelab"


@dataclass(frozen=True)
class PortSpec:
    """A fixed port of a component, overridable through ``env_var``."""

    component: str
    label: str
    env_var: str
    default: int


PORT_SPECS: dict[str, PortSpec] = {
    "collector_otlp_grpc": PortSpec(COLLECTOR, "OTLP gRPC", "OTELCOL_OTLP_GRPC_PORT", 4317),
    "collector_otlp_http": PortSpec(COLLECTOR, "OTLP HTTP", "OTELCOL_OTLP_HTTP_PORT", 4318),
    "collector_spanmetrics": PortSpec(COLLECTOR, "span metrics", "OTELCOL_SPANMETRICS_PORT", 8889),
    "collector_health": PortSpec(COLLECTOR, "health check", "OTELCOL_HEALTH_PORT", 13133),
    "collector_metrics": PortSpec(COLLECTOR, "own metrics", "OTELCOL_METRICS_PORT", 8888),
    "jaeger_otlp_grpc": PortSpec(JAEGER, "OTLP gRPC", "JAEGER_OTLP_GRPC_PORT", 14317),
    "jaeger_otlp_http": PortSpec(JAEGER, "OTLP HTTP", "JAEGER_OTLP_HTTP_PORT", 14318),
    "jaeger_query": PortSpec(JAEGER, "UI/query API", "JAEGER_QUERY_PORT", 16686),
    "jaeger_query_grpc": PortSpec(JAEGER, "gRPC query API", "JAEGER_QUERY_GRPC_PORT", 16685),
    "jaeger_health": PortSpec(JAEGER, "health check", "JAEGER_HEALTH_PORT", 13134),
    "jaeger_metrics": PortSpec(JAEGER, "own metrics", "JAEGER_METRICS_PORT", 18888),
    "frontend": PortSpec("frontend", "HTTP", "TRACELAB_FRONTEND_PORT", 8080),
    "gateway": PortSpec("gateway", "HTTP", "TRACELAB_GATEWAY_PORT", 8081),
    "auth": PortSpec("auth", "HTTP", "TRACELAB_AUTH_PORT", 8082),
    "user": PortSpec("user", "HTTP", "TRACELAB_USER_PORT", 8083),
    "db": PortSpec("db", "HTTP", "TRACELAB_DB_PORT", 8084),
    "console": PortSpec(CONSOLE, "HTTP", "TRACELAB_CONSOLE_PORT", 8090),
}


def _parse_port(var: str, raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise StackError(f"{var}={raw!r} is not a TCP port (1-65535)")
    return port


def resolve_ports(environ: Mapping[str, str]) -> dict[str, int]:
    """Return every fixed port: its variable from ``environ`` or its default."""
    ports: dict[str, int] = {}
    for key, spec in PORT_SPECS.items():
        raw = environ.get(spec.env_var, "").strip()
        ports[key] = _parse_port(spec.env_var, raw) if raw else spec.default
    return ports


def choose_postgres_port(environ: Mapping[str, str]) -> int:
    """Return ``$TRACELAB_POSTGRES_PORT`` if set, else 5432 when free, else any free port."""
    raw = environ.get(POSTGRES_PORT_VAR, "").strip()
    if raw:
        return _parse_port(POSTGRES_PORT_VAR, raw)
    if is_port_free(POSTGRES_DEFAULT_PORT):
        return POSTGRES_DEFAULT_PORT
    return find_free_port()


def port_conflicts(
    ports: Mapping[str, int], components: Iterable[str]
) -> list[tuple[int, str, str]]:
    """Return ``(port, description, env var)`` for each needed port that is taken."""
    wanted = set(components)
    conflicts = []
    for key, spec in PORT_SPECS.items():
        if spec.component in wanted and not is_port_free(ports[key]):
            conflicts.append((ports[key], f"{spec.component} {spec.label}", spec.env_var))
    return conflicts


def database_url(port: int) -> str:
    """Return the DSN of the local tracelab database on ``port``."""
    return f"postgresql://{DB_USER}:{DB_PASSWORD}@{LOCALHOST}:{port}/{DB_NAME}"


def http_url(port: int, path: str = "") -> str:
    """Return ``http://127.0.0.1:<port><path>``."""
    return f"http://{LOCALHOST}:{port}{path}"


def _port_vars(ports: Mapping[str, int], component: str) -> dict[str, str]:
    return {
        spec.env_var: str(ports[key])
        for key, spec in PORT_SPECS.items()
        if spec.component == component
    }


COLLECTOR_QUEUE_DIR_VAR = "OTELCOL_QUEUE_DIR"


def collector_env(
    ports: Mapping[str, int], base: Mapping[str, str], queue_dir: Path
) -> dict[str, str]:
    """Environment of the collector: its ports, Jaeger's OTLP endpoint and its queue directory.

    ``queue_dir`` (inside the run directory) holds the persistent sending
    queues, so a restarted collector finds what it had not sent yet.
    """
    env = dict(base)
    env.update(_port_vars(ports, COLLECTOR))
    # Always the local Jaeger: a stale value from the shell must not win.
    env["JAEGER_OTLP_ENDPOINT"] = f"{LOCALHOST}:{ports['jaeger_otlp_grpc']}"
    env[COLLECTOR_QUEUE_DIR_VAR] = str(queue_dir)
    return env


def jaeger_env(ports: Mapping[str, int], base: Mapping[str, str]) -> dict[str, str]:
    """Environment of Jaeger: its ports."""
    env = dict(base)
    env.update(_port_vars(ports, JAEGER))
    return env


def service_env(
    name: str,
    ports: Mapping[str, int],
    dsn: str,
    base: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment of service ``name`` as docs/architecture.md defines it.

    ``secrets`` (the stack's admin token and auth's signing key) are given to
    every service; ``extra`` (e.g. a test's fault-injection switches) is
    applied last and wins over everything else.
    """
    env = dict(base)
    env.update(secrets or {})
    env.update(
        {
            "BIND_HOST": LOCALHOST,
            "PORT": str(ports[name]),
            "DEPLOYMENT_ENVIRONMENT": env.get("DEPLOYMENT_ENVIRONMENT", "local"),
            "PYTHONUNBUFFERED": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": http_url(ports["collector_otlp_http"]),
            "GATEWAY_URL": http_url(ports["gateway"]),
            "AUTH_URL": http_url(ports["auth"]),
            "USER_URL": http_url(ports["user"]),
            "DB_SERVICE_URL": http_url(ports["db"]),
            "DATABASE_URL": dsn,
            "TRACELAB_CONSOLE_URL": http_url(ports["console"]),
        }
    )
    env.update(extra or {})
    return env


def console_env(
    ports: Mapping[str, int],
    run_dir: Path,
    base: Mapping[str, str],
    secrets: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment of the console: its port, Jaeger, the services, the log folder, the
    admin token (``secrets``; auth's signing key is none of its business)."""
    env = dict(base)
    env.pop("AUTH_TOKEN_SECRET", None)
    if secrets and "TRACELAB_ADMIN_TOKEN" in secrets:
        env["TRACELAB_ADMIN_TOKEN"] = secrets["TRACELAB_ADMIN_TOKEN"]
    env.update(
        {
            "TRACELAB_CONSOLE_HOST": LOCALHOST,
            "TRACELAB_CONSOLE_PORT": str(ports["console"]),
            "JAEGER_QUERY_URL": http_url(ports["jaeger_query"]),
            "FRONTEND_URL": http_url(ports["frontend"]),
            "GATEWAY_URL": http_url(ports["gateway"]),
            "AUTH_URL": http_url(ports["auth"]),
            "USER_URL": http_url(ports["user"]),
            "DB_SERVICE_URL": http_url(ports["db"]),
            "TRACELAB_LOG_DIR": str(run_dir / "logs"),
            "TRACELAB_WORKSHOP_DIR": str(run_dir / "workshop"),
            "TRACELAB_SPAN_METRICS_URL": http_url(ports["collector_spanmetrics"], "/metrics"),
            "TRACELAB_CONSOLE_START_HINT": "make up",
            "PYTHONUNBUFFERED": "1",
        }
    )
    # The local Jaeger has no UI and no Grafana runs: no links to them.
    for name in ("JAEGER_UI_URL", "GRAFANA_URL", "TEMPO_QUERY_URL"):
        env.pop(name, None)
    return env


def stack_urls(
    ports: Mapping[str, int], components: Iterable[str], dsn: str | None
) -> dict[str, str]:
    """Return the URLs worth printing, keyed by a short label, for ``components``."""
    wanted = set(components)
    urls: dict[str, str] = {}
    if CONSOLE in wanted:
        urls["console"] = http_url(ports["console"])
    for name in ("frontend", "gateway", "auth", "user", "db"):
        if name in wanted:
            urls[name] = http_url(ports[name])
    if JAEGER in wanted:
        urls["jaeger"] = http_url(ports["jaeger_query"])
        urls["jaeger_api"] = http_url(ports["jaeger_query"], "/api/v3")
        urls["jaeger_otlp_grpc"] = f"{LOCALHOST}:{ports['jaeger_otlp_grpc']}"
        urls["jaeger_health"] = http_url(ports["jaeger_health"], "/status")
        urls["jaeger_metrics"] = http_url(ports["jaeger_metrics"], "/metrics")
    if COLLECTOR in wanted:
        urls["otlp_http"] = http_url(ports["collector_otlp_http"])
        urls["otlp_grpc"] = f"{LOCALHOST}:{ports['collector_otlp_grpc']}"
        urls["span_metrics"] = http_url(ports["collector_spanmetrics"], "/metrics")
        urls["collector_health"] = http_url(ports["collector_health"], "/")
        urls["collector_metrics"] = http_url(ports["collector_metrics"], "/metrics")
    if POSTGRES in wanted and dsn:
        urls["postgres"] = dsn
    return urls


_CONFIG_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)")


def infra_config_env(root: Path, environ: Mapping[str, str]) -> dict[str, str | None]:
    """The variables the collector and Jaeger configs read, with their values in ``environ``.

    Part of a running stack's signature: a later ``up`` with, say, another
    ``TRACES_PROCESSORS`` must restart the collector, not reuse it.
    """
    names: set[str] = set()
    for config in INFRA_CONFIGS.values():
        path = root / config
        if path.is_file():  # a checkout without them fails later, with a clearer message
            names.update(_CONFIG_ENV_REF.findall(path.read_text()))
    return {name: environ.get(name) for name in sorted(names)}
