"""Fixtures: fake auth and user servers on 127.0.0.1 and a gateway pointed at them."""

from __future__ import annotations

import pytest

from services.gateway.app import create_app
from tests.unit.gateway.fakes import FakeAuth, FakeUser, Stack


@pytest.fixture
async def stack(aiohttp_server) -> Stack:
    """Fake auth and user servers listening on 127.0.0.1."""
    auth, user = FakeAuth(), FakeUser()
    auth_server = await aiohttp_server(auth.app())
    user_server = await aiohttp_server(user.app())
    return Stack(
        auth=auth,
        user=user,
        auth_url=str(auth_server.make_url("")),
        user_url=str(user_server.make_url("")),
    )


@pytest.fixture
async def gateway(aiohttp_client, stack):
    """A test client of the gateway wired to the fakes."""
    return await aiohttp_client(create_app(stack.settings()))
