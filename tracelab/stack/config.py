"""The local stack's components, described once: the table the runner, the CLI and the
config checks read, plus the ports, URLs and environments it implies.

Every port is overridable through an environment variable. The collector and
Jaeger read the SAME variables in their config files (``infra/*``), so the
runner only has to pass them on; services get ``PORT`` and the URLs of the
services they call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path

from tracelab.stack.component import (
    Component,
    HttpProbe,
    PortSpec,
    PostgresProbe,
    PythonModule,
    Tool,
    Url,
)
from tracelab.stack.errors import StackError
from tracelab.stack.pgserver import PostgresServer
from tracelab.stack.ports import LOCALHOST, find_free_port, find_free_ports, is_port_free
from tracelab.stack.postgres import DB_NAME, DB_PASSWORD, DB_USER, database_url

__all__ = ["DB_NAME", "DB_PASSWORD", "DB_USER", "PortSpec", "database_url"]

POSTGRES = "postgres"
COLLECTOR = "otel-collector"
JAEGER = "jaeger"
CONSOLE = "console"
POSTGRES_PORT_VAR = "TRACELAB_POSTGRES_PORT"
POSTGRES_DEFAULT_PORT = 5432
COLLECTOR_QUEUE_DIR_VAR = "OTELCOL_QUEUE_DIR"


def http_url(port: int, path: str = "") -> str:
    """Return ``http://127.0.0.1:<port><path>``."""
    return f"http://{LOCALHOST}:{port}{path}"


def _parse_port(var: str, raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise StackError(f"{var}={raw!r} is not a TCP port (1-65535)")
    return port


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
            # No log store runs locally: the JSON log files in the run directory
            # are the logs (the console reads them), so no OTLP log export.
            "OTEL_LOGS_EXPORTER": "none",
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


def _service(
    name: str, port: int, listed: int, label: str, needs: tuple[str, ...] = ()
) -> Component:
    """A demo service: ``python -m services.<name>`` (under ``opentelemetry-instrument`` with
    ``TRACELAB_INSTRUMENTATION=zero-code``), ready when ``/readyz`` answers 200."""
    return Component(
        name=name,
        kind="service",
        listed=listed,
        ports={name: PortSpec(name, "HTTP", f"TRACELAB_{name.upper()}_PORT", port)},
        urls=(Url(name, label, name),),
        ready=(HttpProbe(name, "/readyz"),),
        command=PythonModule(
            f"services.{name}",
            f"service {name!r}",
            ": start only the infrastructure with `tracelab up --infra-only`",
            service=name,
        ),
        env=lambda launch: service_env(
            name,
            launch.ports,
            launch.dsn or "",
            launch.site.environ,
            launch.extra_env,
            launch.secrets(),
        ),
        needs=needs,
        after=(COLLECTOR,),
    )


_collector = partial(PortSpec, COLLECTOR)
_jaeger = partial(PortSpec, JAEGER)

# The stack, in start order (a component starts once those it needs or comes
# after are ready; components of the same stage start together). Stop order
# is the reverse.
COMPONENTS: tuple[Component, ...] = (
    Component(
        name=POSTGRES,
        kind="infra",
        listed=8,
        ports={
            "postgres": PortSpec(
                POSTGRES, "", POSTGRES_PORT_VAR, POSTGRES_DEFAULT_PORT, floating=True
            )
        },
        urls=(Url("postgres", "PostgreSQL", "postgres", form="dsn"),),
        ready=(PostgresProbe(),),
        hooks=PostgresServer(),
    ),
    Component(
        name=COLLECTOR,
        kind="infra",
        listed=7,
        ports={
            "collector_otlp_grpc": _collector("OTLP gRPC", "OTELCOL_OTLP_GRPC_PORT", 4317),
            "collector_otlp_http": _collector("OTLP HTTP", "OTELCOL_OTLP_HTTP_PORT", 4318),
            "collector_spanmetrics": _collector("span metrics", "OTELCOL_SPANMETRICS_PORT", 8889),
            "collector_health": _collector("health check", "OTELCOL_HEALTH_PORT", 13133),
            "collector_metrics": _collector("own metrics", "OTELCOL_METRICS_PORT", 8888),
        },
        urls=(
            Url("otlp_http", "collector OTLP HTTP", "collector_otlp_http"),
            Url("otlp_grpc", "collector OTLP gRPC", "collector_otlp_grpc", form="address"),
            Url("span_metrics", "collector span metrics", "collector_spanmetrics", "/metrics"),
            Url("collector_health", "collector health", "collector_health", "/"),
            Url("collector_metrics", "collector own metrics", "collector_metrics", "/metrics"),
        ),
        ready=(HttpProbe("collector_health", "/"),),
        command=Tool("otelcol", Path("infra/otel-collector/config.yaml")),
        env=lambda launch: collector_env(
            launch.ports, launch.site.environ, launch.site.run_dir / "otelcol-queue"
        ),
    ),
    Component(
        name=JAEGER,
        kind="infra",
        listed=6,
        ports={
            "jaeger_otlp_grpc": _jaeger("OTLP gRPC", "JAEGER_OTLP_GRPC_PORT", 14317),
            "jaeger_otlp_http": _jaeger("OTLP HTTP", "JAEGER_OTLP_HTTP_PORT", 14318),
            "jaeger_query": _jaeger("UI/query API", "JAEGER_QUERY_PORT", 16686),
            "jaeger_query_grpc": _jaeger("gRPC query API", "JAEGER_QUERY_GRPC_PORT", 16685),
            "jaeger_health": _jaeger("health check", "JAEGER_HEALTH_PORT", 13134),
            "jaeger_metrics": _jaeger("own metrics", "JAEGER_METRICS_PORT", 18888),
        },
        urls=(
            Url("jaeger", "Jaeger query API (no UI locally)", "jaeger_query"),
            Url("jaeger_api", "Jaeger query API v3", "jaeger_query", "/api/v3"),
            Url("jaeger_otlp_grpc", "Jaeger OTLP gRPC", "jaeger_otlp_grpc", form="address"),
            Url("jaeger_health", "Jaeger health", "jaeger_health", "/status"),
            Url("jaeger_metrics", "Jaeger own metrics", "jaeger_metrics", "/metrics"),
        ),
        ready=(
            HttpProbe("jaeger_health", "/status"),
            HttpProbe("jaeger_query", "/api/v3/services"),
        ),
        command=Tool("jaeger", Path("infra/jaeger/config.yaml")),
        env=lambda launch: jaeger_env(launch.ports, launch.site.environ),
    ),
    # The five services (docs/architecture.md), started together.
    _service("db", 8084, 5, "db service", needs=(POSTGRES,)),
    _service("auth", 8082, 3, "auth"),
    _service("user", 8083, 4, "user"),
    _service("gateway", 8081, 2, "gateway"),
    _service("frontend", 8080, 1, "frontend (demo app, public API)"),
    # The lab's own tooling: the trace explorer, started beside the services.
    Component(
        name=CONSOLE,
        kind="tooling",
        listed=0,
        ports={"console": PortSpec(CONSOLE, "HTTP", "TRACELAB_CONSOLE_PORT", 8090)},
        urls=(Url("console", "tracelab console (open this)", "console"),),
        ready=(HttpProbe("console", "/readyz"),),
        command=PythonModule("tracelab.console", "the console"),
        env=lambda launch: console_env(
            launch.ports, launch.site.run_dir, launch.site.environ, launch.secrets()
        ),
        after=(JAEGER,),
    ),
)
BY_NAME: dict[str, Component] = {component.name: component for component in COMPONENTS}
ALL_COMPONENTS = tuple(BY_NAME)
INFRA = tuple(c.name for c in COMPONENTS if c.kind == "infra")
SERVICES = tuple(c.name for c in COMPONENTS if c.kind == "service")
TOOLING = tuple(c.name for c in COMPONENTS if c.kind == "tooling")
# Every port by key; the fixed ones (all but PostgreSQL's) are part of a stack's signature.
ALL_PORT_SPECS: dict[str, PortSpec] = {k: s for c in COMPONENTS for k, s in c.ports.items()}
PORT_SPECS: dict[str, PortSpec] = {k: s for k, s in ALL_PORT_SPECS.items() if not s.floating}
# Config files of the infrastructure programs, relative to the checkout.
INFRA_CONFIGS: dict[str, Path] = {
    c.name: c.command.config for c in COMPONENTS if isinstance(c.command, Tool)
}
URL_LABELS: dict[str, str] = {u.key: u.label for c in COMPONENTS for u in c.urls}


def stage_of(name: str) -> int:
    """0 for a component that waits for nothing, else one more than what it waits for."""
    component = BY_NAME[name]
    return max((1 + stage_of(other) for other in component.needs + component.after), default=0)


def stages(names: Iterable[str]) -> list[list[str]]:
    """``names`` grouped by stage, in start order (table order within a stage)."""
    wanted = set(names)
    grouped: dict[int, list[str]] = {}
    for name in ALL_COMPONENTS:
        if name in wanted:
            grouped.setdefault(stage_of(name), []).append(name)
    return [grouped[stage] for stage in sorted(grouped)]


def default_port(name: str) -> int:
    """The port a component listens on by default (its first)."""
    return next(iter(BY_NAME[name].ports.values())).default


def resolve_port(spec: PortSpec, environ: Mapping[str, str]) -> int:
    """``spec``'s variable from ``environ``; else its default, or any free port when a
    floating default is taken."""
    raw = environ.get(spec.env_var, "").strip()
    if raw:
        return _parse_port(spec.env_var, raw)
    if spec.floating and not is_port_free(spec.default):
        return find_free_port()
    return spec.default


def free_port_env() -> dict[str, str]:
    """Every port variable of the stack set to a port free right now.

    A stack started with it runs beside a developer's ``make up`` stack (and
    the tests' ones) without either noticing the other.
    """
    names = [spec.env_var for spec in ALL_PORT_SPECS.values()]
    return dict(zip(names, map(str, find_free_ports(len(names))), strict=True))


def resolve_ports(environ: Mapping[str, str]) -> dict[str, int]:
    """Return every fixed port: its variable from ``environ`` or its default."""
    return {key: resolve_port(spec, environ) for key, spec in PORT_SPECS.items()}


def choose_postgres_port(environ: Mapping[str, str]) -> int:
    """Return ``$TRACELAB_POSTGRES_PORT`` if set, else 5432 when free, else any free port."""
    return resolve_port(ALL_PORT_SPECS["postgres"], environ)


def port_conflicts(
    ports: Mapping[str, int], components: Iterable[str]
) -> list[tuple[int, str, str]]:
    """Return ``(port, description, env var)`` for each port of ``components`` in ``ports``
    that is taken."""
    wanted = set(components)
    return [
        (ports[key], spec.description, spec.env_var)
        for key, spec in ALL_PORT_SPECS.items()
        if spec.component in wanted and key in ports and not is_port_free(ports[key])
    ]


def _port_vars(ports: Mapping[str, int], component: str) -> dict[str, str]:
    return {spec.env_var: str(ports[key]) for key, spec in BY_NAME[component].ports.items()}


def stack_dsn(ports: Mapping[str, int], components: Iterable[str]) -> str | None:
    """The database URL of a stack of ``components`` (None without PostgreSQL)."""
    return database_url(ports["postgres"]) if POSTGRES in set(components) else None


def stack_urls(
    ports: Mapping[str, int], components: Iterable[str], dsn: str | None
) -> dict[str, str]:
    """Return the URLs worth printing, keyed by a short label, for ``components``."""
    wanted = sorted((BY_NAME[name] for name in set(components)), key=lambda c: c.listed)
    urls: dict[str, str] = {}
    for component in wanted:
        for url in component.urls:
            if (rendered := url.render(ports, dsn)) is not None:
                urls[url.key] = rendered
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
