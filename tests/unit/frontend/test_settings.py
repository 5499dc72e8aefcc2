"""The frontend's settings from environment variables."""

from __future__ import annotations

import pytest

from services.common.config import ConfigError
from services.frontend.settings import Settings


def test_defaults_work_locally():
    settings = Settings.from_env({})

    assert settings.service.name == "frontend"
    assert settings.service.port == 8080
    assert settings.gateway_url == "http://127.0.0.1:8081"
    assert settings.console_url == "http://127.0.0.1:8090"
    assert settings.trust_traceparent is False


def test_every_variable_is_read():
    settings = Settings.from_env(
        {
            "PORT": "9080",
            "GATEWAY_URL": "http://gateway:8081",
            "TRACELAB_CONSOLE_URL": "http://localhost:18090/",
            "FRONTEND_TRUST_TRACEPARENT": "true",
            "HTTP_TIMEOUT_SECONDS": "2.5",
        }
    )

    assert settings.service.port == 9080
    assert settings.service.http_timeout_s == 2.5
    assert settings.gateway_url == "http://gateway:8081"
    assert settings.console_url == "http://localhost:18090"
    assert settings.trust_traceparent is True


def test_a_bad_trust_value_is_refused():
    with pytest.raises(ConfigError, match="FRONTEND_TRUST_TRACEPARENT"):
        Settings.from_env({"FRONTEND_TRUST_TRACEPARENT": "maybe"})
