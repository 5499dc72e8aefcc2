"""Settings of the frontend, from environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.common.config import ServiceSettings, env_bool, env_str

SERVICE_NAME = "frontend"
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class Settings:
    """Where the frontend listens, where the gateway answers, and the console its page links to."""

    service: ServiceSettings
    gateway_url: str = "http://127.0.0.1:8081"
    console_url: str = "http://127.0.0.1:8090"
    # False: an incoming traceparent from the internet is linked, not continued.
    trust_traceparent: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``GATEWAY_URL``, ``TRACELAB_CONSOLE_URL``, ``FRONTEND_TRUST_TRACEPARENT``
        and the common variables."""
        return cls(
            service=ServiceSettings.from_env(SERVICE_NAME, DEFAULT_PORT, environ),
            gateway_url=env_str("GATEWAY_URL", "http://127.0.0.1:8081", environ),
            console_url=env_str("TRACELAB_CONSOLE_URL", "http://127.0.0.1:8090", environ).rstrip(
                "/"
            ),
            trust_traceparent=env_bool("FRONTEND_TRUST_TRACEPARENT", False, environ),
        )
