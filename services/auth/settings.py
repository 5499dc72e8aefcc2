"""Settings of the auth service, from environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from services.common.config import ServiceSettings, env_int, env_str

SERVICE_NAME = "auth"
DEFAULT_PORT = 8082
# Only for local runs: anyone can read it here, so start-up warns when it is used.
DEVELOPMENT_TOKEN_SECRET = "tracelab-development-secret-do-not-use-in-production"
DEFAULT_TOKEN_TTL_SECONDS = 3600


@dataclass(frozen=True)
class Settings:
    """Where auth listens, where db answers, and how tokens are signed."""

    service: ServiceSettings
    db_url: str = "http://127.0.0.1:8084"
    token_secret: str = field(default=DEVELOPMENT_TOKEN_SECRET, repr=False)
    token_ttl_s: int = DEFAULT_TOKEN_TTL_SECONDS
    # Memory concurrent password checks may use (services.auth.hashing).
    hash_memory_mib: int = 40

    @property
    def uses_development_secret(self) -> bool:
        """True when tokens are signed with the published development secret."""
        return self.token_secret == DEVELOPMENT_TOKEN_SECRET

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``DB_SERVICE_URL``, ``AUTH_TOKEN_SECRET``, ``AUTH_TOKEN_TTL_SECONDS``,
        ``AUTH_HASH_MEMORY_MIB`` and the common variables."""
        return cls(
            service=ServiceSettings.from_env(SERVICE_NAME, DEFAULT_PORT, environ),
            db_url=env_str("DB_SERVICE_URL", "http://127.0.0.1:8084", environ),
            token_secret=env_str("AUTH_TOKEN_SECRET", DEVELOPMENT_TOKEN_SECRET, environ),
            token_ttl_s=env_int(
                "AUTH_TOKEN_TTL_SECONDS", DEFAULT_TOKEN_TTL_SECONDS, environ, minimum=1
            ),
            hash_memory_mib=env_int("AUTH_HASH_MEMORY_MIB", 40, environ, minimum=1),
        )
