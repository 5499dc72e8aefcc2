"""Fixtures: the frontend app in-process, in front of a real fake gateway server."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.common.config import ServiceSettings
from services.frontend.app import create_app
from services.frontend.routes import GATEWAY_KEY
from services.frontend.settings import Settings
from tests.unit.frontend import fake_gateway
from tests.unit.frontend.fake_gateway import FakeGateway

CONSOLE = "http://console.test:8090"


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    """A fake gateway served over real HTTP on 127.0.0.1."""
    fake = FakeGateway()
    server, thread = fake_gateway.start(fake)
    yield fake
    if fake.stall is not None:
        fake.stall.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def frontend_settings(
    gateway_url: str, *, trust: bool = False, timeout_s: float = 2.0, max_body: int = 65536
) -> Settings:
    """Frontend settings for tests: a fixed console URL, short timeout."""
    return Settings(
        service=ServiceSettings(
            name="frontend", port=8080, http_timeout_s=timeout_s, max_body_bytes=max_body
        ),
        gateway_url=gateway_url,
        console_url=CONSOLE,
        trust_traceparent=trust,
    )


@pytest.fixture
def make_app(gateway: FakeGateway) -> Iterator[Callable[..., Flask]]:
    """Build frontend apps (default: in front of ``gateway``); their clients are closed after."""
    apps: list[Flask] = []

    def _make(gateway_url: str | None = None, **options: object) -> Flask:
        app = create_app(frontend_settings(gateway_url or gateway.url, **options))
        apps.append(app)
        return app

    yield _make
    for app in apps:
        app.extensions[GATEWAY_KEY].close()


@pytest.fixture
def client(make_app: Callable[..., Flask]) -> FlaskClient:
    """A test client of the frontend in default (untrusted edge) mode."""
    return make_app().test_client()
