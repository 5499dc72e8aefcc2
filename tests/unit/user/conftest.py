"""Fixtures: a fake db server on 127.0.0.1 and the user service pointed at it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.user.app import create_app
from tests.unit.user.fakes import FakeDb, user_settings


@dataclass
class Db:
    """The fake db and its base URL."""

    fake: FakeDb
    url: str


@pytest.fixture
async def db(aiohttp_server) -> Db:
    """A fake db service listening on 127.0.0.1."""
    fake = FakeDb()
    server = await aiohttp_server(fake.app())
    return Db(fake=fake, url=str(server.make_url("")))


@pytest.fixture
async def user(aiohttp_client, db):
    """A test client of the user service wired to the fake db."""
    return await aiohttp_client(create_app(user_settings(db.url)))
