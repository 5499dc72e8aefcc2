"""Fixtures of the console's API tests: recorded backends served over real HTTP, the app."""

from __future__ import annotations

import pytest

from tests.unit.console.helpers import _closed_url
from tests.unit.shapes.fake_backend import serve
from tracelab.console.app import create_app
from tracelab.console.settings import ConsoleSettings


@pytest.fixture
def backends():
    with serve() as jaeger, serve() as tempo:
        yield jaeger, tempo


@pytest.fixture
def settings(backends, tmp_path) -> ConsoleSettings:
    jaeger, tempo = backends
    closed = _closed_url()
    return ConsoleSettings(
        backends={"jaeger": jaeger.url, "tempo": tempo.url},
        services={name: closed for name in ("frontend", "gateway", "auth", "user", "db")},
        log_dir=tmp_path,
        start_hint="make up",
        span_metrics_url=None,
    )


@pytest.fixture
def client(settings, monkeypatch):
    monkeypatch.setenv("TRACELAB_ADMIN_TOKEN", "a-token-for-these-tests-only")
    return create_app(settings).test_client()
