"""Settings of the db service, from environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from services.common.config import ConfigError, ServiceSettings, env_float, env_int, env_str

SERVICE_NAME = "db"
DEFAULT_PORT = 8084
DEFAULT_DATABASE_URL = "postgresql://tracelab:tracelab@127.0.0.1:5432/tracelab"


@dataclass(frozen=True)
class Settings:
    """Where the db service listens, where PostgreSQL is and how the pool behaves.

    ``pool_timeout_s`` bounds the wait for a free connection: a starved pool
    answers 503 well before the caller's own HTTP timeout.
    """

    service: ServiceSettings
    # The URL may carry a password: keep it out of reprs and logs.
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    pool_min_size: int = 2
    pool_max_size: int = 10
    pool_timeout_s: float = 2.0
    connect_timeout_s: int = 3
    # A wait for a pooled connection at least this long becomes a db.pool.wait span.
    pool_wait_span_ms: float = 20.0
    # PostgreSQL cancels a statement running longer (and sooner when the
    # request's budget is shorter): the db answers 504.
    statement_timeout_ms: int = 2000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``DATABASE_URL``, ``DB_POOL_MIN_SIZE``/``DB_POOL_MAX_SIZE`` and the common ones.

        ``DB_POOL_TIMEOUT_SECONDS`` (default 2) and ``DB_CONNECT_TIMEOUT_SECONDS``
        (default 3) tune how long a request waits for a connection;
        ``DB_POOL_WAIT_SPAN_MS`` (default 20) how long a wait must be to get a span;
        ``DB_STATEMENT_TIMEOUT_MS`` (default 2000) PostgreSQL's ``statement_timeout``.
        """
        min_size = env_int("DB_POOL_MIN_SIZE", 2, environ, minimum=0)
        max_size = env_int("DB_POOL_MAX_SIZE", 10, environ, minimum=1)
        if max_size < min_size:
            raise ConfigError(
                f"DB_POOL_MAX_SIZE ({max_size}) must not be below DB_POOL_MIN_SIZE ({min_size})"
            )
        return cls(
            service=ServiceSettings.from_env(SERVICE_NAME, DEFAULT_PORT, environ),
            database_url=env_str("DATABASE_URL", DEFAULT_DATABASE_URL, environ),
            pool_min_size=min_size,
            pool_max_size=max_size,
            pool_timeout_s=env_float("DB_POOL_TIMEOUT_SECONDS", 2.0, environ),
            connect_timeout_s=env_int("DB_CONNECT_TIMEOUT_SECONDS", 3, environ, minimum=1),
            pool_wait_span_ms=env_float("DB_POOL_WAIT_SPAN_MS", 20.0, environ),
            statement_timeout_ms=env_int("DB_STATEMENT_TIMEOUT_MS", 2000, environ, minimum=1),
        )
