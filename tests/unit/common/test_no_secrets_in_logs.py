"""No password or token ever reaches a log line, whatever the log level.

Every record of the process, DEBUG included (the HTTP libraries' own lines
too), is formatted exactly as the services write it (JSON lines) while a
login and token checks go through auth, the gateway and the frontend, happy
paths and failures alike; no secret may appear in that text.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from services.auth.app import create_app as create_auth
from services.common.logs import JsonFormatter
from services.frontend.app import create_app as create_frontend
from services.gateway.app import create_app as create_gateway
from tests.unit.auth.conftest import auth_settings
from tests.unit.db.fake_db import EMAIL, PASSWORD, running_fake_db
from tests.unit.frontend import fake_gateway
from tests.unit.frontend.conftest import frontend_settings
from tests.unit.gateway.fakes import EMAIL as GATEWAY_EMAIL
from tests.unit.gateway.fakes import GOOD_TOKEN, FakeAuth, FakeUser, Stack
from tests.unit.gateway.fakes import PASSWORD as GATEWAY_PASSWORD
from tests.unit.gateway.spantools import call

WRONG_PASSWORD = "not-the-password-Qx7"


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """Every log record of the process, as the services format them, DEBUG and up."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _assert_absent(text: str, *secrets: str) -> None:
    assert text, "nothing was logged: the capture does not work"
    for secret in secrets:
        assert secret not in text, f"a secret was logged: {secret[:6]}..."


def test_auth_logs_no_password_or_token(log_text):
    with running_fake_db() as db:
        client = create_auth(auth_settings(db.url)).test_client()
        token = client.post("/login", json={"email": EMAIL, "password": PASSWORD}).get_json()
        assert token and token["token"]
        bearer = {"Authorization": f"Bearer {token['token']}"}
        assert client.post("/verify", headers=bearer).status_code == 200
        wrong = {"email": EMAIL, "password": WRONG_PASSWORD}
        assert client.post("/login", json=wrong).status_code == 401
        unknown = {"email": "nobody@tracelab.test", "password": WRONG_PASSWORD}
        assert client.post("/login", json=unknown).status_code == 401
        tampered = {"Authorization": f"Bearer {token['token']}x"}
        assert client.post("/verify", headers=tampered).status_code == 401
    down = create_auth(auth_settings("http://127.0.0.1:1")).test_client()
    assert down.post("/login", json={"email": EMAIL, "password": PASSWORD}).status_code == 503
    signature = token["token"].rsplit(".", 1)[1]
    _assert_absent(log_text.getvalue(), PASSWORD, WRONG_PASSWORD, token["token"], signature)


async def test_the_gateway_logs_no_password_or_token(aiohttp_client, aiohttp_server, log_text):
    auth, user = FakeAuth(), FakeUser()
    auth_server, user_server = await aiohttp_server(auth.app()), await aiohttp_server(user.app())
    stack = Stack(auth, user, str(auth_server.make_url("")), str(user_server.make_url("")))
    gateway = await aiohttp_client(create_gateway(stack.settings()))
    login = {"email": GATEWAY_EMAIL, "password": GATEWAY_PASSWORD}
    response, body = await call(gateway, "POST", "/api/login", json=login)
    assert (response.status, body["token"]) == (200, GOOD_TOKEN)
    response, _ = await call(
        gateway, "GET", "/api/dashboard", headers={"Authorization": f"Bearer {GOOD_TOKEN}"}
    )
    assert response.status == 200
    response, _ = await call(
        gateway, "POST", "/api/login", json={"email": GATEWAY_EMAIL, "password": WRONG_PASSWORD}
    )
    assert response.status == 401
    down = await aiohttp_client(create_gateway(stack.settings(auth_url="http://127.0.0.1:1")))
    response, _ = await call(down, "POST", "/api/login", json=login)
    assert response.status == 503
    _assert_absent(log_text.getvalue(), GATEWAY_PASSWORD, WRONG_PASSWORD, GOOD_TOKEN)


def test_the_frontend_logs_no_password_or_token(log_text):
    fake = fake_gateway.FakeGateway()
    server, thread = fake_gateway.start(fake)
    try:
        client = create_frontend(frontend_settings(fake.url)).test_client()
        good = {"email": fake_gateway.EMAIL, "password": fake_gateway.PASSWORD}
        assert client.post("/api/login", json=good).status_code == 200
        bearer = {"Authorization": f"Bearer {fake_gateway.TOKEN}"}
        assert client.get("/api/dashboard", headers=bearer).status_code == 200
        wrong = {"email": fake_gateway.EMAIL, "password": WRONG_PASSWORD}
        assert client.post("/api/login", json=wrong).status_code == 401
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    _assert_absent(log_text.getvalue(), fake_gateway.PASSWORD, WRONG_PASSWORD, fake_gateway.TOKEN)
