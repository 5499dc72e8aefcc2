"""Fixtures: the auth app (Flask test client) in front of a fake db server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.auth.app import create_app
from services.auth.settings import Settings
from services.common.config import ServiceSettings
from tests.unit.db.fake_db import FakeDb, running_fake_db

SECRET = "unit-test-secret-" + "0123456789abcdef" * 4  # long enough for any HS algorithm
MAX_BODY = 1024
TTL_S = 600


def auth_settings(db_url: str) -> Settings:
    """Settings for an auth app under test."""
    return Settings(
        service=ServiceSettings(name="auth", port=8082, max_body_bytes=MAX_BODY, http_timeout_s=2),
        db_url=db_url,
        token_secret=SECRET,
        token_ttl_s=TTL_S,
    )


@pytest.fixture
def fake_db() -> Iterator[FakeDb]:
    """The fake db service the auth app looks credentials up in."""
    with running_fake_db() as fake:
        yield fake


@pytest.fixture
def client(fake_db):
    """A Flask test client of the auth app."""
    return create_app(auth_settings(fake_db.url)).test_client()
