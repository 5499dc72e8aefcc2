"""Settings of the console, from environment variables (defaults: the local stack)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.common.config import env_int, env_str

DEFAULT_PORT = 8090
SERVICE_URL_VARS = {
    "frontend": "FRONTEND_URL",
    "gateway": "GATEWAY_URL",
    "auth": "AUTH_URL",
    "user": "USER_URL",
    "db": "DB_SERVICE_URL",
}
DEFAULT_SERVICE_PORTS = {"frontend": 8080, "gateway": 8081, "auth": 8082, "user": 8083, "db": 8084}


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def default_log_dir(environ: Mapping[str, str]) -> Path | None:
    """``TRACELAB_LOG_DIR``; else ``$TRACELAB_RUN_DIR/logs`` when that is set; else none."""
    explicit = env_str("TRACELAB_LOG_DIR", "", environ)
    if explicit:
        return Path(explicit)
    run_dir = env_str("TRACELAB_RUN_DIR", "", environ)
    return Path(run_dir) / "logs" if run_dir else None


def default_workshop_dir(environ: Mapping[str, str]) -> Path | None:
    """``TRACELAB_WORKSHOP_DIR``; else ``$TRACELAB_RUN_DIR/workshop`` when that is set."""
    explicit = env_str("TRACELAB_WORKSHOP_DIR", "", environ)
    if explicit:
        return Path(explicit)
    run_dir = env_str("TRACELAB_RUN_DIR", "", environ)
    return Path(run_dir) / "workshop" if run_dir else None


@dataclass(frozen=True)
class ConsoleSettings:
    """Where the console listens, which backends and services it talks to, what it links to.

    ``backends`` maps a backend name to its query URL (Jaeger always; Tempo
    where ``TEMPO_QUERY_URL`` is set). ``allowed_hosts`` are the ``Host``
    values (``name:port``) the console answers besides its own loopback
    names. ``start_hint`` is what the banner tells a person to run when a
    backend is down.
    """

    bind_host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    backends: Mapping[str, str] = field(
        default_factory=lambda: {"jaeger": "http://127.0.0.1:16686"}
    )
    services: Mapping[str, str] = field(
        default_factory=lambda: {
            name: f"http://127.0.0.1:{port}" for name, port in DEFAULT_SERVICE_PORTS.items()
        }
    )
    log_dir: Path | None = None
    allowed_hosts: tuple[str, ...] = ()
    jaeger_ui_url: str | None = None
    grafana_url: str | None = None
    start_hint: str = "make up"
    threads: int = 8
    span_metrics_url: str | None = "http://127.0.0.1:8889/metrics"
    # The services' head sampling, for the service map's correction where the
    # spans carry no ot=th tracestate.
    sampler: str | None = None
    sampler_arg: str | None = None
    # Where exercises and game days are recorded (tracelab.workshop.store); None: no exercises.
    workshop_dir: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConsoleSettings:
        """Read ``TRACELAB_CONSOLE_HOST``/``_PORT``/``_ALLOWED_HOSTS``/``_START_HINT``,
        ``JAEGER_QUERY_URL``, ``TEMPO_QUERY_URL``, the services' ``*_URL`` variables,
        ``TRACELAB_LOG_DIR`` (or ``TRACELAB_RUN_DIR``), ``TRACELAB_WORKSHOP_DIR`` (the exercises'
        record), ``JAEGER_UI_URL`` and ``GRAFANA_URL``
        (links to those UIs, where a real one runs), ``TRACELAB_SPAN_METRICS_URL`` (the
        collector's span metrics) and ``OTEL_TRACES_SAMPLER``/``_ARG`` (how the stack's
        services sample: the service map's correction where spans say nothing)."""
        env = os.environ if environ is None else environ
        backends = {"jaeger": env_str("JAEGER_QUERY_URL", "http://127.0.0.1:16686", env)}
        tempo = env_str("TEMPO_QUERY_URL", "", env)
        if tempo:
            backends["tempo"] = tempo
        services = {
            name: env_str(var, f"http://127.0.0.1:{DEFAULT_SERVICE_PORTS[name]}", env)
            for name, var in SERVICE_URL_VARS.items()
        }
        return cls(
            bind_host=env_str("TRACELAB_CONSOLE_HOST", "127.0.0.1", env),
            port=env_int("TRACELAB_CONSOLE_PORT", DEFAULT_PORT, env, minimum=1),
            backends={name: url.rstrip("/") for name, url in backends.items()},
            services={name: url.rstrip("/") for name, url in services.items()},
            log_dir=default_log_dir(env),
            allowed_hosts=_csv(env_str("TRACELAB_CONSOLE_ALLOWED_HOSTS", "", env)),
            jaeger_ui_url=env_str("JAEGER_UI_URL", "", env).rstrip("/") or None,
            grafana_url=env_str("GRAFANA_URL", "", env).rstrip("/") or None,
            start_hint=env_str("TRACELAB_CONSOLE_START_HINT", "make up", env),
            threads=env_int("TRACELAB_CONSOLE_THREADS", 8, env, minimum=1),
            span_metrics_url=env_str(
                "TRACELAB_SPAN_METRICS_URL", "http://127.0.0.1:8889/metrics", env
            ),
            sampler=env_str("OTEL_TRACES_SAMPLER", "", env) or None,
            sampler_arg=env_str("OTEL_TRACES_SAMPLER_ARG", "", env) or None,
            workshop_dir=default_workshop_dir(env),
        )
