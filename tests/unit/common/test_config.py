import pytest

from services.common.config import ConfigError, ServiceSettings, env_bool, env_float, env_int


def test_defaults_work_locally():
    settings = ServiceSettings.from_env("auth", 8082, environ={})
    assert settings.port == 8082
    assert settings.bind_host == "127.0.0.1"
    assert settings.environment == "local"
    assert settings.http_timeout_s == 5.0
    assert settings.max_body_bytes == 65536


def test_environment_overrides_every_field():
    environ = {
        "PORT": "9000",
        "BIND_HOST": "0.0.0.0",
        "SERVICE_VERSION": "1.2.3",
        "DEPLOYMENT_ENVIRONMENT": "workshop",
        "LOG_LEVEL": "debug",
        "HTTP_TIMEOUT_SECONDS": "0.5",
        "MAX_BODY_BYTES": "10",
        "WEB_CONCURRENCY": "3",
        "WEB_THREADS": "2",
    }
    settings = ServiceSettings.from_env("user", 8083, environ=environ)
    assert (settings.port, settings.bind_host, settings.version) == (9000, "0.0.0.0", "1.2.3")
    assert (settings.environment, settings.log_level) == ("workshop", "DEBUG")
    assert (settings.http_timeout_s, settings.max_body_bytes) == (0.5, 10)
    assert (settings.workers, settings.threads) == (3, 2)


@pytest.mark.parametrize(
    ("reader", "value", "message"),
    [
        (lambda e: env_int("PORT", 1, e, minimum=1), "abc", "PORT must be an integer"),
        (lambda e: env_int("PORT", 1, e, minimum=1), "0", "PORT must be at least 1"),
        (lambda e: env_float("PORT", 1.0, e), "-1", "PORT must be positive"),
        (lambda e: env_float("PORT", 1.0, e), "x", "PORT must be a number"),
        (lambda e: env_bool("PORT", False, e), "maybe", "PORT must be true or false"),
    ],
)
def test_bad_values_are_named_in_the_error(reader, value, message):
    with pytest.raises(ConfigError, match=message):
        reader({"PORT": value})


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("ON", True), ("0", False)])
def test_booleans(raw, expected):
    assert env_bool("FLAG", not expected, {"FLAG": raw}) is expected
    assert env_bool("FLAG", expected, {}) is expected
