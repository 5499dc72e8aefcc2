"""Settings of the lab console (``/lab``), from environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.common.config import env_bool, env_str


def default_log_dir(environ: Mapping[str, str]) -> Path:
    """``TRACELAB_LOG_DIR``, else ``$TRACELAB_RUN_DIR/logs``, else ``.run/logs``."""
    explicit = env_str("TRACELAB_LOG_DIR", "", environ)
    if explicit:
        return Path(explicit)
    return Path(env_str("TRACELAB_RUN_DIR", ".run", environ)) / "logs"


@dataclass(frozen=True)
class LabSettings:
    """Where the console finds the services' admin APIs, Jaeger and the logs.

    ``allow_remote`` (``TRACELAB_LAB_ALLOW_REMOTE``, default false) is the
    trust switch: by default ``/lab`` answers only loopback callers, because
    it can switch faults on and read every service's logs.
    """

    services: Mapping[str, str] = field(default_factory=dict)
    jaeger_query_url: str = "http://127.0.0.1:16686"
    log_dir: Path | None = None
    allow_remote: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> LabSettings:
        """Read ``GATEWAY_URL``, ``AUTH_URL``, ``USER_URL``, ``DB_SERVICE_URL``,
        ``JAEGER_QUERY_URL`` (default ``JAEGER_UI_URL``), ``TRACELAB_LOG_DIR`` and
        ``TRACELAB_LAB_ALLOW_REMOTE``; the frontend's own admin API is called in-process.
        """
        jaeger_ui = env_str("JAEGER_UI_URL", "http://127.0.0.1:16686", environ)
        return cls(
            services={
                "gateway": env_str("GATEWAY_URL", "http://127.0.0.1:8081", environ),
                "auth": env_str("AUTH_URL", "http://127.0.0.1:8082", environ),
                "user": env_str("USER_URL", "http://127.0.0.1:8083", environ),
                "db": env_str("DB_SERVICE_URL", "http://127.0.0.1:8084", environ),
            },
            jaeger_query_url=env_str("JAEGER_QUERY_URL", jaeger_ui, environ).rstrip("/"),
            log_dir=default_log_dir(environ),
            allow_remote=env_bool("TRACELAB_LAB_ALLOW_REMOTE", False, environ),
        )
