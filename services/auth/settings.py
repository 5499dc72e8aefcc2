"""Settings of the auth service, from environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from services.common.config import ConfigError, ServiceSettings, env_int, env_str

SERVICE_NAME = "auth"
DEFAULT_PORT = 8082
# Secrets committed to this repository (this one, for in-process tests; the
# Compose .env's and the Kubernetes base's) begin with this: anyone can read
# them, so start-up warns when one signs the tokens.
PUBLISHED_SECRET_PREFIX = "tracelab-published-"
DEVELOPMENT_TOKEN_SECRET = PUBLISHED_SECRET_PREFIX + "development-secret-do-not-use"
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
    def uses_published_secret(self) -> bool:
        """True when tokens are signed with a secret committed to the repository."""
        return self.token_secret.startswith(PUBLISHED_SECRET_PREFIX)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``DB_SERVICE_URL``, ``AUTH_TOKEN_SECRET`` (required: there is no default
        secret; the local stack generates one per stack), ``AUTH_TOKEN_TTL_SECONDS``,
        ``AUTH_HASH_MEMORY_MIB`` and the common variables."""
        secret = env_str("AUTH_TOKEN_SECRET", "", environ)
        if not secret:
            raise ConfigError(
                "AUTH_TOKEN_SECRET is not set: give auth a secret to sign tokens with "
                "(the local stack generates one per stack in .run/secrets)"
            )
        return cls(
            service=ServiceSettings.from_env(SERVICE_NAME, DEFAULT_PORT, environ),
            db_url=env_str("DB_SERVICE_URL", "http://127.0.0.1:8084", environ),
            token_secret=secret,
            token_ttl_s=env_int(
                "AUTH_TOKEN_TTL_SECONDS", DEFAULT_TOKEN_TTL_SECONDS, environ, minimum=1
            ),
            hash_memory_mib=env_int("AUTH_HASH_MEMORY_MIB", 40, environ, minimum=1),
        )
