"""Settings from environment variables, with defaults that work locally."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


OTLP_PROTOCOLS = ("grpc", "http/protobuf")


def otlp_protocol(signal: str, environ: Mapping[str, str] | None = None) -> str:
    """The OTLP protocol of ``signal`` (``TRACES``, ``METRICS``, ``LOGS``) as the SDK reads it:
    ``OTEL_EXPORTER_OTLP_<signal>_PROTOCOL``, else ``OTEL_EXPORTER_OTLP_PROTOCOL``, else
    ``http/protobuf`` (not validated here: each exporter builder refuses what it cannot speak)."""
    env = os.environ if environ is None else environ
    return env.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL") or env.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )


class ConfigError(ValueError):
    """An environment variable holds a value that cannot be used."""


def env_str(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    """Return ``name`` from the environment, or ``default`` when unset or empty."""
    value = (environ if environ is not None else os.environ).get(name, "").strip()
    return value or default


def env_int(
    name: str, default: int, environ: Mapping[str, str] | None = None, *, minimum: int = 0
) -> int:
    """Return an integer variable, refusing non-numbers and values under ``minimum``."""
    raw = env_str(name, str(default), environ)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, environ: Mapping[str, str] | None = None) -> float:
    """Return a positive float variable."""
    raw = env_str(name, str(default), environ)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Return a boolean variable (true/false, yes/no, on/off, 1/0)."""
    raw = (environ if environ is not None else os.environ).get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def env_choice(
    name: str, choices: tuple[str, ...], environ: Mapping[str, str] | None = None
) -> str:
    """A variable that names one of ``choices`` (case-insensitive); unset means the first."""
    raw = (environ if environ is not None else os.environ).get(name, "")
    value = raw.strip().lower() or choices[0]
    if value not in choices:
        raise ConfigError(f"{name} {value!r} is not one of {', '.join(choices)}")
    return value


def package_version() -> str:
    """The installed tracelab version, used as the default ``service.version``."""
    try:
        return metadata.version("tracelab")
    except metadata.PackageNotFoundError:
        return "0.0.0"


@dataclass(frozen=True)
class ServiceSettings:
    """What every service needs: where to listen, limits, and its identity."""

    name: str
    port: int
    bind_host: str = "127.0.0.1"
    version: str = field(default_factory=package_version)
    environment: str = "local"
    log_level: str = "INFO"
    http_timeout_s: float = 5.0
    max_body_bytes: int = 65536
    workers: int = 1
    threads: int = 8
    # The request budget an edge gives (and a hop without the budget header takes).
    request_budget_s: float = 3.0
    # Admission (services.common.admission): aiohttp services work on at most
    # max_in_flight requests at once (gunicorn services: their threads).
    max_in_flight: int = 64
    max_queued: int = 16
    max_queue_wait_s: float = 1.0

    @classmethod
    def from_env(
        cls, name: str, default_port: int, environ: Mapping[str, str] | None = None
    ) -> ServiceSettings:
        """Read the common variables of docs/architecture.md for service ``name``."""
        return cls(
            name=name,
            port=env_int("PORT", default_port, environ, minimum=1),
            bind_host=env_str("BIND_HOST", "127.0.0.1", environ),
            version=env_str("SERVICE_VERSION", package_version(), environ),
            environment=env_str("DEPLOYMENT_ENVIRONMENT", "local", environ),
            log_level=env_str("LOG_LEVEL", "INFO", environ).upper(),
            http_timeout_s=env_float("HTTP_TIMEOUT_SECONDS", 5.0, environ),
            max_body_bytes=env_int("MAX_BODY_BYTES", 65536, environ, minimum=1),
            workers=env_int("WEB_CONCURRENCY", 1, environ, minimum=1),
            threads=env_int("WEB_THREADS", 8, environ, minimum=1),
            request_budget_s=env_float("REQUEST_BUDGET_SECONDS", 3.0, environ),
            max_in_flight=env_int("MAX_IN_FLIGHT_REQUESTS", 64, environ, minimum=1),
            max_queued=env_int("MAX_QUEUED_REQUESTS", 16, environ, minimum=0),
            max_queue_wait_s=env_float("MAX_QUEUE_WAIT_MS", 1000.0, environ) / 1000,
        )
