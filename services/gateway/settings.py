"""Settings of the gateway, from environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.common.config import ServiceSettings, env_str

SERVICE_NAME = "gateway"
DEFAULT_PORT = 8081


@dataclass(frozen=True)
class Settings:
    """Where the gateway listens and where auth and user answer."""

    service: ServiceSettings
    auth_url: str = "http://127.0.0.1:8082"
    user_url: str = "http://127.0.0.1:8083"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``AUTH_URL``, ``USER_URL`` and the common variables."""
        return cls(
            service=ServiceSettings.from_env(SERVICE_NAME, DEFAULT_PORT, environ),
            auth_url=env_str("AUTH_URL", "http://127.0.0.1:8082", environ),
            user_url=env_str("USER_URL", "http://127.0.0.1:8083", environ),
        )
