"""The user service's settings and the typed client the gateway uses."""

from __future__ import annotations

import pytest
from aiohttp import web
from opentelemetry.trace import SpanKind

from services.common.errors import ApiError
from services.user.app import create_app
from services.user.client import Activity, UserClient, UserProfile
from services.user.settings import Settings
from tests.unit.gateway.fakes import closed_port_url
from tests.unit.gateway.spantools import children
from tests.unit.user.fakes import MISSING_USER, USER_ID, activity, profile, user_settings


def test_settings_follow_the_documented_variables():
    settings = Settings.from_env({"DB_SERVICE_URL": "http://db:8084", "BIND_HOST": "0.0.0.0"})
    assert settings.db_url == "http://db:8084"
    assert (settings.service.name, settings.service.bind_host) == ("user", "0.0.0.0")


def test_settings_defaults_work_locally():
    settings = Settings.from_env({})
    assert (settings.service.port, settings.db_url) == (8083, "http://127.0.0.1:8084")


@pytest.fixture
async def client(aiohttp_server, db):
    """A UserClient aimed at a real user service (itself wired to the fake db)."""
    server = await aiohttp_server(create_app(user_settings(db.url)))
    typed = UserClient(str(server.make_url("")), timeout_s=5)
    yield typed
    await typed.close()


async def test_client_returns_typed_profiles(client, spans):
    found = await client.get_profile(USER_ID)

    assert found == UserProfile(**profile(USER_ID))
    # The client's span is the root; user's server span hangs under it.
    (root,) = [s for s in spans.all() if s.parent is None]
    assert root.kind is SpanKind.CLIENT
    assert [s.name for s in children(spans.all(), root)] == ["GET /users/{id}"]


async def test_client_returns_typed_activity(client, db):
    items = await client.get_activity(USER_ID, limit=3)

    assert items == [Activity(**item) for item in activity(USER_ID, 3)]
    assert db.fake.queries[-1]["limit"] == "3"
    assert len(await client.get_activity(USER_ID)) == 10


async def test_client_raises_404_for_an_unknown_user(client):
    with pytest.raises(ApiError) as info:
        await client.get_profile(MISSING_USER)
    assert (info.value.status, info.value.code) == (404, "user_not_found")


@pytest.mark.parametrize(
    ("answer", "call"),
    [
        ({"id": "seven"}, lambda c: c.get_profile(USER_ID)),
        ({"items": "none"}, lambda c: c.get_activity(USER_ID)),
        ({"items": [{"id": 1}]}, lambda c: c.get_activity(USER_ID)),
    ],
)
async def test_client_refuses_a_malformed_answer(aiohttp_server, answer, call):
    async def garbage(_: web.Request) -> web.Response:
        return web.json_response(answer)

    app = web.Application()
    app.router.add_get("/users/{tail:.*}", garbage)
    server = await aiohttp_server(app)
    typed = UserClient(str(server.make_url("")), timeout_s=5)
    try:
        with pytest.raises(ApiError) as info:
            await call(typed)
    finally:
        await typed.close()
    assert (info.value.status, info.value.code) == (502, "bad_gateway")


async def test_client_health(client):
    assert await client.healthy()
    down = UserClient(closed_port_url(), timeout_s=1)
    try:
        assert not await down.healthy()
    finally:
        await down.close()
