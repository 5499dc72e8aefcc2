"""Fixtures: the db app over a pool that never connects, and a fake db server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from services.common.config import ServiceSettings
from services.db.app import create_app
from services.db.settings import Settings
from tests.unit.db.fake_db import FakeDb, closed_port_url, running_fake_db

MAX_BODY = 1024


def db_settings(database_url: str = "postgresql://tracelab@127.0.0.1:1/tracelab") -> Settings:
    """Settings for a db app under test (small body limit, short pool timeout)."""
    return Settings(
        service=ServiceSettings(name="db", port=8084, max_body_bytes=MAX_BODY),
        database_url=database_url,
        pool_min_size=0,
        pool_max_size=1,
        pool_timeout_s=0.3,
        connect_timeout_s=1,
    )


@pytest.fixture
def closed_pool() -> Iterator[ConnectionPool]:
    """A pool that is never opened: any query answers 503."""
    pool = ConnectionPool(db_settings().database_url, open=False)
    yield pool
    pool.close()


@pytest.fixture
def client(closed_pool):
    """A Flask test client of the db app; validation never reaches the pool."""
    return create_app(db_settings(), pool=closed_pool).test_client()


@pytest.fixture
def fake_db() -> Iterator[FakeDb]:
    """A fake db service on 127.0.0.1 (for the client tests)."""
    with running_fake_db() as fake:
        yield fake


@pytest.fixture
def nowhere_url() -> str:
    """An HTTP URL on 127.0.0.1 where connections are refused."""
    return closed_port_url()
