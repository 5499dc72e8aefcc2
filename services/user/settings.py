"""Settings of the user service, from environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.common.config import ServiceSettings, env_str

SERVICE_NAME = "user"
DEFAULT_PORT = 8083


@dataclass(frozen=True)
class Settings:
    """Where the user service listens and where the db service answers."""

    service: ServiceSettings
    db_url: str = "http://127.0.0.1:8084"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the variables of docs/architecture.md (``DB_SERVICE_URL`` and the common ones)."""
        return cls(
            service=ServiceSettings.from_env(SERVICE_NAME, DEFAULT_PORT, environ),
            db_url=env_str("DB_SERVICE_URL", "http://127.0.0.1:8084", environ),
        )
