"""The Compose tier: the e2e trace-shape tests against `docker compose` (issue 3).

Runs where a Docker engine answers and skips everywhere else with the reason
"no Docker engine". The session builds the service image, starts the whole
stack of docker-compose.yml with testcontainers' DockerCompose (``up --build
--wait``: every healthcheck green) under its own project name and on free
host ports, so it neither collides with a developer's Compose stack nor with
a local one, and removes it (volumes included) afterwards.
TRACELAB_KEEP_STACK=1 keeps it running.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.compose.engine import NO_ENGINE, docker_engine_answers
from tests.config.helpers import ROOT, dotenv
from tests.e2e import journeys

PROJECT = "tracelab-compose-e2e"

# Fixtures shared with the e2e tier, registered by name here.
http = journeys.http
login = journeys.login
untraced_test_client = journeys.untraced_test_client  # autouse


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "compose: needs a Docker engine (the Compose stack)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here + os.sep):
            item.add_marker(pytest.mark.compose)
            if not docker_engine_answers():
                item.add_marker(pytest.mark.skip(reason=NO_ENGINE))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class ComposeStack:
    """The running Compose stack and the host ports it was given."""

    ports: dict[str, int]

    def url(self, variable: str) -> str:
        return f"http://127.0.0.1:{self.ports[variable]}"


@pytest.fixture(scope="session")
def compose_stack() -> Iterator[ComposeStack]:
    from testcontainers.compose import DockerCompose

    ports = {name: free_port() for name in dotenv() if name.endswith("_PORT")}
    overrides = {"COMPOSE_PROJECT_NAME": PROJECT, **{k: str(v) for k, v in ports.items()}}
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)  # the shell environment wins over .env in Compose
    stack = DockerCompose(context=str(ROOT), build=True, wait=True)
    try:
        try:
            stack.start()
        except Exception:
            stdout, stderr = stack.get_logs()
            print(stdout[-20000:], stderr[-20000:])
            raise
        yield ComposeStack(ports)
    finally:
        if not os.environ.get("TRACELAB_KEEP_STACK"):
            stack.stop(down=True)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def frontend_url(compose_stack) -> str:
    return compose_stack.url("FRONTEND_PORT")


@pytest.fixture(scope="session")
def backends(compose_stack) -> dict[str, object]:
    """Compose runs both trace backends: every trace is fetched from each."""
    from tracelab.shapes.backends import JaegerClient, TempoClient

    return {
        "jaeger": JaegerClient(compose_stack.url("JAEGER_UI_PORT")),
        "tempo": TempoClient(compose_stack.url("TEMPO_PORT")),
    }
