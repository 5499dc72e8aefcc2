"""The gateway's settings and the typed client its callers use."""

from __future__ import annotations

import asyncio

import pytest

from services.common.errors import ApiError
from services.gateway.client import Dashboard, GatewayClient, LoginResult
from services.gateway.settings import Settings
from services.user.client import Activity, UserProfile
from tests.unit.gateway.fakes import EMAIL, GOOD_TOKEN, MISSING_USER, PASSWORD, USER_ID


def test_settings_follow_the_documented_variables():
    environ = {"AUTH_URL": "http://auth:8082", "USER_URL": "http://user:8083", "PORT": "9001"}
    settings = Settings.from_env(environ)
    assert (settings.auth_url, settings.user_url) == ("http://auth:8082", "http://user:8083")
    assert (settings.service.name, settings.service.port) == ("gateway", 9001)


def test_settings_defaults_work_locally():
    settings = Settings.from_env({})
    assert settings.service.port == 8081
    assert settings.auth_url == "http://127.0.0.1:8082"
    assert settings.user_url == "http://127.0.0.1:8083"


@pytest.fixture
async def client(gateway):
    """A GatewayClient aimed at the gateway under test (it is synchronous: use threads)."""
    typed = GatewayClient(str(gateway.make_url("")), timeout_s=5)
    yield typed
    typed.close()


async def test_client_logs_in_and_reads_the_dashboard(client):
    login = await asyncio.to_thread(client.login, EMAIL, PASSWORD)
    assert login == LoginResult(token=GOOD_TOKEN, user_id=USER_ID)

    board = await asyncio.to_thread(client.dashboard, f"Bearer {login.token}")
    assert isinstance(board, Dashboard)
    assert board.profile.id == USER_ID
    assert board.activity and all(isinstance(item, Activity) for item in board.activity)


async def test_client_reads_a_profile(client):
    found = await asyncio.to_thread(client.get_user, USER_ID, f"Bearer {GOOD_TOKEN}")
    assert isinstance(found, UserProfile)
    assert found.email == f"user{USER_ID:04d}@tracelab.test"
    assert await asyncio.to_thread(client.healthy)


@pytest.mark.parametrize("authorization", [None, "Bearer forged"])
async def test_client_raises_401_without_a_valid_token(client, authorization):
    with pytest.raises(ApiError) as info:
        await asyncio.to_thread(client.get_user, USER_ID, authorization)
    assert info.value.status == 401


async def test_client_raises_404_for_an_unknown_user(client):
    with pytest.raises(ApiError) as info:
        await asyncio.to_thread(client.get_user, MISSING_USER, f"Bearer {GOOD_TOKEN}")
    assert (info.value.status, info.value.code) == (404, "user_not_found")
