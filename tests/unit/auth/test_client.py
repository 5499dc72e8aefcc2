"""The gateway's AuthClient against the real auth app served over HTTP on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from opentelemetry.trace import SpanKind
from werkzeug.serving import make_server

from services.auth.app import create_app
from services.auth.client import AuthClient, LoginResult
from services.common.errors import ApiError
from tests.unit.auth.conftest import auth_settings
from tests.unit.db.fake_db import EMAIL, PASSWORD, USER_ID, closed_port_url
from tests.unit.db.spanasserts import server_span


@pytest.fixture
def auth_url(fake_db) -> Iterator[str]:
    """The auth app served by werkzeug in a thread."""
    server = make_server("127.0.0.1", 0, create_app(auth_settings(fake_db.url)), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
async def auth(auth_url):
    client = AuthClient(auth_url, timeout_s=5)
    yield client
    await client.close()


async def test_login_then_verify(auth, spans):
    result = await auth.login(EMAIL, PASSWORD)
    assert isinstance(result, LoginResult)
    assert result.user_id == USER_ID
    assert result.token not in repr(result)
    assert await auth.verify(f"Bearer {result.token}") == USER_ID

    # The client spans are the parents of auth's server spans: one trace per call.
    for route in ("/login", "/verify"):
        server = server_span(spans.all(), f"POST {route}")
        caller = [s for s in spans.all() if s.context.span_id == server.parent.span_id]
        assert [(s.name, s.kind) for s in caller] == [("POST", SpanKind.CLIENT)]
        assert caller[0].attributes["url.full"].endswith(route)


async def test_bad_credentials_keep_auths_401(auth):
    with pytest.raises(ApiError) as caught:
        await auth.login(EMAIL, "wrong")
    assert (caught.value.status, caught.value.code) == (401, "invalid_credentials")
    assert caught.value.message == "invalid email or password"


@pytest.mark.parametrize(
    ("header", "code"),
    [(None, "missing_token"), ("Basic abc", "missing_token"), ("Bearer a.b.c", "invalid_token")],
)
async def test_verify_passes_auths_codes_through(auth, header, code):
    with pytest.raises(ApiError) as caught:
        await auth.verify(header)
    assert (caught.value.status, caught.value.code) == (401, code)


async def test_health_and_unreachable_auth(auth):
    assert await auth.healthy() is True
    down = AuthClient(closed_port_url(), timeout_s=1)
    try:
        assert await down.healthy() is False
        with pytest.raises(ApiError) as caught:
            await down.verify("Bearer x")
        assert caught.value.status == 503
    finally:
        await down.close()
