"""``POST /verify``: valid, missing, expired and bad tokens, and their spans."""

from __future__ import annotations

import time

import jwt
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from tests.unit.auth.conftest import SECRET
from tests.unit.db.fake_db import EMAIL, PASSWORD, USER_ID
from tests.unit.db.spanasserts import assert_http_server, assert_no_secret, children, server_span


def _token(**overrides) -> str:
    now = int(time.time())
    claims = {"sub": str(USER_ID), "iat": now, "exp": now + 60, "jti": "abc123"}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _verify(client, token: str | None = None, header: str | None = None):
    value = header if header is not None else f"Bearer {token}"
    return client.post("/verify", headers={"Authorization": value} if value else {})


def test_a_login_token_verifies(client, spans):
    token = client.post("/login", json={"email": EMAIL, "password": PASSWORD}).get_json()["token"]
    response = _verify(client, token)
    assert response.status_code == 200
    assert response.get_json() == {"user_id": USER_ID}
    server = server_span(spans.all(), "POST /verify")
    assert_http_server(server, "POST", "/verify", 200)
    assert server.attributes["enduser.id"] == str(USER_ID)
    (step,) = children(spans.all(), server)
    assert (step.name, step.kind) == ("auth.token_verify", SpanKind.INTERNAL)
    assert step.status.status_code is StatusCode.UNSET
    assert step.attributes["enduser.id"] == str(USER_ID)
    assert_no_secret(spans.all(), token, token.rsplit(".", 1)[1])


def test_expired_token_is_an_error_on_the_step_only(client, spans):
    token = _token(iat=int(time.time()) - 120, exp=int(time.time()) - 60)
    response = _verify(client, token)
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert (error["code"], error["message"]) == ("token_expired", "token has expired")

    server = server_span(spans.all(), "POST /verify")
    assert_http_server(server, "POST", "/verify", 401)
    assert server.events == ()
    assert "enduser.id" not in server.attributes
    step = spans.one("auth.token_verify")
    assert step.parent.span_id == server.context.span_id
    assert step.status.status_code is StatusCode.ERROR
    assert step.status.description == "token_expired"
    (event,) = step.events
    assert event.name == "exception"
    assert event.attributes["exception.type"].endswith("TokenExpired")
    assert event.attributes["exception.message"] == "token has expired"
    assert_no_secret(spans.all(), token)


# Factories, not tokens: a token made at collection time would expire before
# the test runs in a long suite and fail for the wrong reason.
@pytest.mark.parametrize(
    "make_token",
    [
        lambda: "not-a-real-token",
        lambda: "a.b.c",
        lambda: jwt.encode(
            {"sub": "7", "exp": int(time.time()) + 60}, "another-secret-that-is-32-bytes-long"
        ),
        lambda: _token(jti=None),
        lambda: _token(sub="abc"),
        lambda: _token(sub="0"),
        lambda: jwt.encode(
            {"sub": "7", "iat": 1, "exp": 2**40, "jti": "x"}, SECRET, algorithm="HS512"
        ),
    ],
    ids=["garbage", "three-dots", "forged", "no-jti", "non-numeric-sub", "zero-sub", "hs512"],
)
def test_bad_tokens_are_invalid(client, spans, make_token):
    token = make_token()
    response = _verify(client, token)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"
    step = spans.one("auth.token_verify")
    assert step.status.status_code is StatusCode.ERROR
    assert [e.attributes["exception.type"].rsplit(".", 1)[-1] for e in step.events] == [
        "InvalidToken"
    ]
    assert_http_server(server_span(spans.all(), "POST /verify"), "POST", "/verify", 401)
    assert_no_secret(spans.all(), token)


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Token abc"])
def test_missing_bearer_token(client, spans, header):
    response = _verify(client, header=header)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "missing_token"
    assert spans.named("auth.token_verify") == []
    assert_http_server(server_span(spans.all(), "POST /verify"), "POST", "/verify", 401)
