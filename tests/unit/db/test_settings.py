"""The db service's settings come from the documented environment variables."""

from __future__ import annotations

import pytest

from services.common.config import ConfigError
from services.db.settings import DEFAULT_DATABASE_URL, Settings


def test_defaults_work_locally():
    settings = Settings.from_env({})
    assert settings.service.name == "db"
    assert settings.service.port == 8084
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert (settings.pool_min_size, settings.pool_max_size) == (2, 10)
    assert settings.pool_timeout_s < settings.service.http_timeout_s


def test_environment_overrides():
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://app:s3cret@db.internal:6543/lab",
            "DB_POOL_MIN_SIZE": "1",
            "DB_POOL_MAX_SIZE": "4",
            "DB_POOL_TIMEOUT_SECONDS": "0.5",
            "PORT": "9000",
        }
    )
    assert settings.database_url.endswith("@db.internal:6543/lab")
    assert (settings.pool_min_size, settings.pool_max_size) == (1, 4)
    assert settings.pool_timeout_s == 0.5
    assert settings.service.port == 9000


def test_the_database_password_stays_out_of_the_repr():
    settings = Settings.from_env({"DATABASE_URL": "postgresql://app:s3cret@h/lab"})
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    "environ",
    [
        {"DB_POOL_MIN_SIZE": "5", "DB_POOL_MAX_SIZE": "2"},
        {"DB_POOL_MAX_SIZE": "0"},
        {"DB_POOL_MIN_SIZE": "many"},
        {"DB_POOL_TIMEOUT_SECONDS": "-1"},
    ],
)
def test_unusable_pool_settings_are_refused(environ):
    with pytest.raises(ConfigError):
        Settings.from_env(environ)
