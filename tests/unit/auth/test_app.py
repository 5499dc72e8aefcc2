"""Auth's settings, start-up warning and readiness."""

from __future__ import annotations

import logging

import pytest

from services.auth.app import create_app
from services.auth.settings import DEVELOPMENT_TOKEN_SECRET, Settings
from services.common.config import ConfigError
from tests.unit.auth.conftest import auth_settings
from tests.unit.db.fake_db import closed_port_url


def test_settings_defaults_but_no_default_secret():
    settings = Settings.from_env({"AUTH_TOKEN_SECRET": "s3cret"})
    assert (settings.service.name, settings.service.port) == ("auth", 8082)
    assert settings.db_url == "http://127.0.0.1:8084"
    assert settings.token_ttl_s == 3600
    with pytest.raises(ConfigError, match="AUTH_TOKEN_SECRET is not set"):
        Settings.from_env({})


def test_settings_from_environment_and_secret_not_in_repr():
    settings = Settings.from_env(
        {
            "AUTH_TOKEN_SECRET": "a-real-secret-from-the-environment",
            "AUTH_TOKEN_TTL_SECONDS": "60",
            "DB_SERVICE_URL": "http://db:8084",
        }
    )
    assert settings.token_ttl_s == 60
    assert settings.db_url == "http://db:8084"
    assert not settings.uses_published_secret
    assert "a-real-secret" not in repr(settings)


@pytest.mark.parametrize(
    "secret",
    [
        DEVELOPMENT_TOKEN_SECRET,
        "tracelab-published-compose-secret-change-me",
        "tracelab-published-kubernetes-dev-secret-change-me",
    ],
)
def test_a_published_secret_is_warned_about(fake_db, caplog, secret):
    settings = Settings.from_env({"DB_SERVICE_URL": fake_db.url, "AUTH_TOKEN_SECRET": secret})
    with caplog.at_level(logging.WARNING, logger="services.auth.app"):
        create_app(settings)
    assert any("AUTH_TOKEN_SECRET" in r.getMessage() for r in caplog.records)
    assert all(secret not in r.getMessage() for r in caplog.records)


def test_a_configured_secret_is_not_warned_about(fake_db, caplog):
    with caplog.at_level(logging.WARNING, logger="services.auth.app"):
        create_app(auth_settings(fake_db.url))
    assert caplog.records == []


def test_ready_when_db_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"db": "ok"}


def test_not_ready_without_db():
    client = create_app(auth_settings(closed_port_url())).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"db": "failing"}
    assert client.get("/healthz").status_code == 200
