"""Settings of the frontend, from environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.common.config import ServiceSettings, env_bool, env_str

SERVICE_NAME = "frontend"
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class Settings:
    """Where the frontend listens, where the gateway answers, and the trace UIs to link."""

    service: ServiceSettings
    gateway_url: str = "http://127.0.0.1:8081"
    jaeger_ui_url: str = "http://127.0.0.1:16686"
    grafana_url: str = "http://127.0.0.1:3000"
    # False: an incoming traceparent from the internet is linked, not continued.
    trust_traceparent: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``GATEWAY_URL``, ``JAEGER_UI_URL``, ``GRAFANA_URL``,
        ``FRONTEND_TRUST_TRACEPARENT`` and the common variables."""
        return cls(
            service=ServiceSettings.from_env(SERVICE_NAME, DEFAULT_PORT, environ),
            gateway_url=env_str("GATEWAY_URL", "http://127.0.0.1:8081", environ),
            jaeger_ui_url=env_str("JAEGER_UI_URL", "http://127.0.0.1:16686", environ).rstrip("/"),
            grafana_url=env_str("GRAFANA_URL", "http://127.0.0.1:3000", environ).rstrip("/"),
            trust_traceparent=env_bool("FRONTEND_TRUST_TRACEPARENT", False, environ),
        )
