"""Whether a Docker engine answers here (the Compose e2e tier runs only then)."""

from __future__ import annotations

from functools import cache

NO_ENGINE = "no Docker engine"


@cache
def docker_engine_answers() -> bool:
    """True when the Docker API answers a ping (DOCKER_HOST or the default socket)."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # any failure to reach the daemon means: no engine
        return False
