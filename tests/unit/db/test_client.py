"""The db clients (sync for auth, async for user) against a fake db over real HTTP."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind

from services.common.errors import ApiError
from services.db.client import (
    Activity,
    DbAsyncClient,
    DbSyncClient,
    UserCredentials,
    UserProfile,
)
from tests.unit.db.fake_db import (
    BROKEN_EMAIL,
    EMAIL,
    GARBLED_EMAIL,
    GARBLED_USER,
    PASSWORD_HASH,
    PROFILE,
    USER_ID,
    activity_items,
)


@pytest.fixture
def sync_client(fake_db):
    client = DbSyncClient(fake_db.url, timeout_s=2)
    yield client
    client.close()


@pytest.fixture
async def async_client(fake_db):
    client = DbAsyncClient(fake_db.url, timeout_s=2)
    yield client
    await client.close()


def test_sync_lookup_returns_typed_credentials(sync_client, fake_db, spans):
    credentials = sync_client.lookup_credentials(EMAIL)
    assert credentials == UserCredentials(id=USER_ID, email=EMAIL, password_hash=PASSWORD_HASH)
    received = fake_db.requests[-1]
    assert (received.method, received.path, received.body) == (
        "POST",
        "/users/lookup",
        {"email": EMAIL},
    )
    client_span = spans.one("POST")
    assert client_span.kind is SpanKind.CLIENT
    assert client_span.attributes["http.response.status_code"] == 200
    assert f"{client_span.context.span_id:016x}" in received.headers["traceparent"]


def test_the_password_hash_stays_out_of_reprs(sync_client):
    credentials = sync_client.lookup_credentials(EMAIL)
    assert PASSWORD_HASH not in repr(credentials)
    assert "password_hash" not in repr(credentials)


def test_sync_lookup_of_an_unknown_email_is_none(sync_client):
    assert sync_client.lookup_credentials("nobody@tracelab.test") is None


def test_sync_profile_and_activity(sync_client, fake_db):
    assert sync_client.get_profile(USER_ID) == UserProfile(**PROFILE)
    items = sync_client.get_activity(USER_ID, limit=2)
    assert items == [Activity(**item) for item in activity_items(2)]
    assert fake_db.requests[-1].path == f"/users/{USER_ID}/activity"
    assert fake_db.requests[-1].query == {"limit": ["2"]}


def test_sync_unknown_profile_keeps_the_404(sync_client):
    with pytest.raises(ApiError) as caught:
        sync_client.get_profile(404)
    assert (caught.value.status, caught.value.code) == (404, "user_not_found")


@pytest.mark.parametrize(
    ("call", "status", "code"),
    [
        (lambda c: c.lookup_credentials(BROKEN_EMAIL), 502, "bad_gateway"),
        (lambda c: c.lookup_credentials(GARBLED_EMAIL), 502, "bad_gateway"),
        (lambda c: c.get_profile(GARBLED_USER), 502, "bad_gateway"),
        (lambda c: c.get_activity(GARBLED_USER), 502, "bad_gateway"),
    ],
    ids=["db-500", "garbled-credentials", "garbled-profile", "garbled-activity"],
)
def test_sync_failures_map_to_gateway_errors(sync_client, call, status, code):
    with pytest.raises(ApiError) as caught:
        call(sync_client)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_sync_unreachable_db_is_503(nowhere_url):
    client = DbSyncClient(nowhere_url, timeout_s=1)
    with pytest.raises(ApiError) as caught:
        client.lookup_credentials(EMAIL)
    assert caught.value.status == 503
    assert client.healthy() is False


def test_sync_health(sync_client, spans):
    assert sync_client.healthy() is True
    assert spans.all() == [], "health checks make no spans"


async def test_async_profile_and_activity(async_client, fake_db, spans):
    assert await async_client.get_profile(USER_ID) == UserProfile(**PROFILE)
    items = await async_client.get_activity(USER_ID, 3)
    assert [item.id for item in items] == [103, 102, 101]
    assert fake_db.requests[-1].query == {"limit": ["3"]}
    client_spans = [s for s in spans.all() if s.kind is SpanKind.CLIENT]
    assert [s.name for s in client_spans] == ["GET", "GET"]
    assert all(s.attributes["http.response.status_code"] == 200 for s in client_spans)


async def test_async_lookup_and_404s(async_client):
    credentials = await async_client.lookup_credentials(EMAIL)
    assert credentials is not None and credentials.id == USER_ID
    assert await async_client.lookup_credentials("nobody@tracelab.test") is None
    with pytest.raises(ApiError) as caught:
        await async_client.get_activity(404)
    assert caught.value.status == 404


async def test_async_garbled_answers_are_502(async_client):
    with pytest.raises(ApiError) as caught:
        await async_client.get_activity(GARBLED_USER)
    assert caught.value.status == 502
    assert await async_client.healthy() is True
