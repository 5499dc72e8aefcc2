"""Fixtures: a bootstrapped database and the db service app over a real pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from services.common.config import ServiceSettings
from services.db.app import app_pool, create_app
from services.db.bootstrap import bootstrap
from services.db.settings import Settings


@pytest.fixture(scope="session")
def database_url(postgres_dsn: str) -> str:
    """The session's database with schema.sql and seed.sql applied."""
    bootstrap(postgres_dsn)
    return postgres_dsn


def db_settings(database_url: str, **pool: float) -> Settings:
    """Settings of a db app on ``database_url`` (pool options may be overridden)."""
    options = {"pool_min_size": 1, "pool_max_size": 4, "pool_timeout_s": 2.0} | pool
    return Settings(
        service=ServiceSettings(name="db", port=8084), database_url=database_url, **options
    )


@pytest.fixture
def db_app(database_url: str, spans) -> Iterator[Flask]:
    """The db app with its own pool (opened by create_app after telemetry init)."""
    app = create_app(db_settings(database_url))
    app_pool(app).wait(timeout=10)
    yield app
    app_pool(app).close()


@pytest.fixture
def client(db_app: Flask):
    """A Flask test client of the db app."""
    return db_app.test_client()
