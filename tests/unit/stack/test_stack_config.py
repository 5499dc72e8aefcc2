"""Ports, environments and URLs of the stack's components."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tracelab.stack import config as cfg
from tracelab.stack.errors import PortInUseError, StackError
from tracelab.stack.paths import repo_root
from tracelab.stack.ports import find_free_port, is_port_free


def test_defaults_are_the_documented_ports():
    ports = cfg.resolve_ports({})
    assert ports["collector_otlp_grpc"] == 4317
    assert ports["collector_otlp_http"] == 4318
    assert ports["collector_spanmetrics"] == 8889
    assert ports["collector_health"] == 13133
    assert ports["collector_metrics"] == 8888
    assert ports["jaeger_otlp_grpc"] == 14317
    assert ports["jaeger_query"] == 16686
    assert ports["jaeger_health"] == 13134
    assert ports["jaeger_metrics"] == 18888
    assert [ports[name] for name in ("frontend", "gateway", "auth", "user", "db")] == [
        8080,
        8081,
        8082,
        8083,
        8084,
    ]


def test_every_port_is_overridable_by_its_variable():
    env = {spec.env_var: str(20000 + i) for i, spec in enumerate(cfg.PORT_SPECS.values())}
    ports = cfg.resolve_ports(env)
    assert sorted(ports.values()) == list(range(20000, 20000 + len(cfg.PORT_SPECS)))


@pytest.mark.parametrize("raw", ["http", "0", "70000", "-1"])
def test_a_bad_port_value_names_the_variable(raw):
    with pytest.raises(StackError, match=rf"OTELCOL_HEALTH_PORT='{raw}' is not a TCP port"):
        cfg.resolve_ports({"OTELCOL_HEALTH_PORT": raw})


def test_postgres_port_from_variable_wins():
    assert cfg.choose_postgres_port({"TRACELAB_POSTGRES_PORT": "6543"}) == 6543


def test_postgres_port_avoids_a_taken_5432():
    holder = None
    if is_port_free(5432):
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 5432))
        holder.listen()
    try:
        port = cfg.choose_postgres_port({})
        assert port != 5432
        assert is_port_free(port)
    finally:
        if holder:
            holder.close()


def test_port_conflicts_names_port_component_and_variable():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = cfg.resolve_ports({"JAEGER_HEALTH_PORT": str(port)})
        # Only the selected components are checked.
        others = {k: find_free_port() for k in ports if k != "jaeger_health"}
        ports.update(others)
        assert cfg.port_conflicts(ports, [cfg.COLLECTOR]) == []
        conflicts = cfg.port_conflicts(ports, [cfg.JAEGER])
    assert conflicts == [(port, "jaeger health check", "JAEGER_HEALTH_PORT")]
    message = str(PortInUseError(conflicts))
    assert f"port already in use: {port} (jaeger health check; set JAEGER_HEALTH_PORT" in message
    assert "\n" not in message


def test_service_env_follows_the_contract():
    ports = cfg.resolve_ports({"TRACELAB_GATEWAY_PORT": "19081", "OTELCOL_OTLP_HTTP_PORT": "14999"})
    dsn = cfg.database_url(6000)
    env = cfg.service_env("frontend", ports, dsn, {"PATH": "/bin", "PORT": "1"}, {"X_FAULT": "1"})
    assert env["PATH"] == "/bin"
    assert env["PORT"] == "8080"
    assert env["BIND_HOST"] == "127.0.0.1"
    assert env["GATEWAY_URL"] == "http://127.0.0.1:19081"
    assert env["AUTH_URL"] == "http://127.0.0.1:8082"
    assert env["USER_URL"] == "http://127.0.0.1:8083"
    assert env["DB_SERVICE_URL"] == "http://127.0.0.1:8084"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:14999"
    assert env["DATABASE_URL"] == "postgresql://tracelab:tracelab@127.0.0.1:6000/tracelab"
    assert env["TRACELAB_CONSOLE_URL"] == "http://127.0.0.1:8090"
    assert "JAEGER_UI_URL" not in env  # the demo services know nothing of the trace UIs
    # No log store locally: the JSON log files are the logs.
    assert env["OTEL_LOGS_EXPORTER"] == "none"
    assert env["X_FAULT"] == "1"


def test_extra_env_wins_over_everything():
    ports = cfg.resolve_ports({})
    env = cfg.service_env("db", ports, "dsn", {}, {"PORT": "9999", "DATABASE_URL": "other"})
    assert (env["PORT"], env["DATABASE_URL"]) == ("9999", "other")


def test_collector_env_points_at_the_local_jaeger_even_with_a_stale_value():
    ports = cfg.resolve_ports({"JAEGER_OTLP_GRPC_PORT": "24317", "OTELCOL_HEALTH_PORT": "23133"})
    env = cfg.collector_env(
        ports,
        {"JAEGER_OTLP_ENDPOINT": "elsewhere:1", "OTELCOL_QUEUE_DIR": "/stale"},
        Path("/run/otelcol-queue"),
    )
    assert env["JAEGER_OTLP_ENDPOINT"] == "127.0.0.1:24317"
    assert env["OTELCOL_QUEUE_DIR"] == "/run/otelcol-queue"
    assert env["OTELCOL_HEALTH_PORT"] == "23133"
    assert env["OTELCOL_OTLP_GRPC_PORT"] == "4317"
    assert "JAEGER_QUERY_PORT" not in env


def test_jaeger_env_carries_only_its_ports():
    env = cfg.jaeger_env(cfg.resolve_ports({"JAEGER_QUERY_PORT": "26686"}), {})
    assert env["JAEGER_QUERY_PORT"] == "26686"
    assert env["JAEGER_METRICS_PORT"] == "18888"
    assert not any(key.startswith("OTELCOL_") for key in env)


def test_urls_cover_only_the_selected_components():
    ports = cfg.resolve_ports({})
    infra = cfg.stack_urls(ports, cfg.INFRA, cfg.database_url(5432))
    assert infra["jaeger_api"] == "http://127.0.0.1:16686/api/v3"
    assert infra["span_metrics"] == "http://127.0.0.1:8889/metrics"
    assert infra["postgres"].endswith(":5432/tracelab")
    assert "frontend" not in infra
    everything = cfg.stack_urls(ports, cfg.ALL_COMPONENTS, None)
    assert list(everything)[:2] == ["console", "frontend"]  # where to click comes first
    assert everything["console"] == "http://127.0.0.1:8090"
    assert "postgres" not in everything


def test_console_env_points_at_this_stack_and_its_logs(tmp_path):
    ports = cfg.resolve_ports({"TRACELAB_CONSOLE_PORT": "18090", "JAEGER_QUERY_PORT": "26686"})
    env = cfg.console_env(ports, tmp_path, {"JAEGER_UI_URL": "http://stale", "PATH": "/bin"})
    assert (env["TRACELAB_CONSOLE_HOST"], env["TRACELAB_CONSOLE_PORT"]) == ("127.0.0.1", "18090")
    assert env["JAEGER_QUERY_URL"] == "http://127.0.0.1:26686"
    assert env["FRONTEND_URL"] == "http://127.0.0.1:8080"
    assert env["DB_SERVICE_URL"] == "http://127.0.0.1:8084"
    assert env["TRACELAB_LOG_DIR"] == str(tmp_path / "logs")
    assert "JAEGER_UI_URL" not in env and env["PATH"] == "/bin"


def test_infra_config_env_lists_what_the_collector_and_jaeger_configs_read():
    env = cfg.infra_config_env(repo_root(), {"TRACES_PROCESSORS": "tail", "HOME": "/root"})
    assert env["TRACES_PROCESSORS"] == "tail"
    assert env["JAEGER_MAX_TRACES"] is None
    assert {"TRACES_EXPORTERS", "OTELCOL_OTLP_HTTP_PORT", "JAEGER_QUERY_PORT"} <= set(env)
    assert "HOME" not in env


def test_the_table_starts_the_infrastructure_first_then_the_rest_together():
    assert cfg.stages(cfg.ALL_COMPONENTS) == [list(cfg.INFRA), [*cfg.SERVICES, *cfg.TOOLING]]
    assert cfg.stages(["gateway", "jaeger"]) == [["jaeger"], ["gateway"]]
    assert cfg.ALL_COMPONENTS == cfg.INFRA + cfg.SERVICES + cfg.TOOLING


def test_every_port_belongs_to_its_row_and_only_postgres_floats():
    for component in cfg.COMPONENTS:
        assert {spec.component for spec in component.ports.values()} == {component.name}
    floating = [key for key, spec in cfg.ALL_PORT_SPECS.items() if spec.floating]
    assert floating == ["postgres"]
    assert "postgres" not in cfg.PORT_SPECS  # not part of a stack's signature
    assert len({spec.env_var for spec in cfg.ALL_PORT_SPECS.values()}) == len(cfg.ALL_PORT_SPECS)
    assert cfg.default_port("console") == 8090 and cfg.default_port("db") == 8084


def test_every_url_key_is_unique_and_labelled():
    keys = [url.key for component in cfg.COMPONENTS for url in component.urls]
    assert len(keys) == len(set(keys)) == len(cfg.URL_LABELS)


def test_free_port_env_sets_every_port_of_the_table_postgres_too():
    env = cfg.free_port_env()
    assert set(env) == {spec.env_var for spec in cfg.ALL_PORT_SPECS.values()}
    assert "TRACELAB_POSTGRES_PORT" in env
    assert all(is_port_free(int(port)) for port in env.values())
