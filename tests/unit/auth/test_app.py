"""Auth's settings, start-up warning and readiness."""

from __future__ import annotations

import logging

from services.auth.app import create_app
from services.auth.settings import DEVELOPMENT_TOKEN_SECRET, Settings
from tests.unit.auth.conftest import auth_settings
from tests.unit.db.fake_db import closed_port_url


def test_settings_defaults():
    settings = Settings.from_env({})
    assert (settings.service.name, settings.service.port) == ("auth", 8082)
    assert settings.db_url == "http://127.0.0.1:8084"
    assert settings.token_ttl_s == 3600
    assert settings.uses_development_secret


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
    assert not settings.uses_development_secret
    assert "a-real-secret" not in repr(settings)


def test_the_development_secret_is_warned_about(fake_db, caplog):
    settings = Settings.from_env({"DB_SERVICE_URL": fake_db.url})
    with caplog.at_level(logging.WARNING, logger="services.auth.app"):
        create_app(settings)
    assert any("AUTH_TOKEN_SECRET" in r.getMessage() for r in caplog.records)
    assert all(DEVELOPMENT_TOKEN_SECRET not in r.getMessage() for r in caplog.records)


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
