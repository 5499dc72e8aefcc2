"""Bad input through the real stack gets clear 4xx JSON errors, never a 500."""

from __future__ import annotations

import datetime as dt
import os

import jwt
import pytest

from tests.e2e.journeys import trace_id_of
from tracelab.stack.secrets import stack_secrets

pytestmark = pytest.mark.e2e

LOGIN_CASES = [
    ("malformed json", b'{"email": ', "application/json", 400),
    ("array body", b"[]", "application/json", 400),
    ("missing password", b'{"email": "user0001@tracelab.test"}', "application/json", 422),
    ("wrong types", b'{"email": 1, "password": ["x"]}', "application/json", 422),
    ("not json", b"email=a&password=b", "application/x-www-form-urlencoded", 415),
    ("oversized", b'{"email": "' + b"a" * 200_000 + b'"}', "application/json", 413),
    (
        "bad credentials",
        b'{"email": "user0001@tracelab.test", "password": "nope"}',
        "application/json",
        401,
    ),
    (
        "unknown email",
        b'{"email": "nobody@tracelab.test", "password": "nope"}',
        "application/json",
        401,
    ),
]


def _assert_json_error(response, status: int) -> dict:
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["status"] == status
    assert error["code"] and error["message"]
    assert "Traceback" not in response.text
    trace_id_of(response)
    return error


@pytest.mark.parametrize(
    ("case", "body", "content_type", "status"), LOGIN_CASES, ids=[c[0] for c in LOGIN_CASES]
)
def test_login_rejects_bad_bodies(http, frontend_url, case, body, content_type, status):
    response = http.post(
        f"{frontend_url}/api/login", data=body, headers={"Content-Type": content_type}, timeout=10
    )
    _assert_json_error(response, status)
    if status == 413:
        # The unread body is not drained: the connection closes, and the answer
        # says so, or the session's next request would reuse a closed connection
        # (tests/integration/services/test_connection_reuse.py sends one).
        assert response.headers["Connection"] == "close"


def test_unknown_and_malformed_ids(http, frontend_url, login):
    user = login(9)
    _assert_json_error(
        http.get(f"{frontend_url}/api/users/424242", headers=user.headers, timeout=10), 404
    )
    _assert_json_error(
        http.get(f"{frontend_url}/api/users/abc", headers=user.headers, timeout=10), 400
    )
    _assert_json_error(http.get(f"{frontend_url}/api/nowhere", timeout=10), 404)


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "missing_token"),
        ("Bearer", "missing_token"),
        ("Basic dXNlcjpwYXNz", "missing_token"),
        ("Bearer a.b.c", "invalid_token"),
    ],
)
def test_bad_tokens_are_401(http, frontend_url, authorization, code):
    headers = {"Authorization": authorization} if authorization else {}
    response = http.get(f"{frontend_url}/api/dashboard", headers=headers, timeout=10)
    assert _assert_json_error(response, 401)["code"] == code


def test_expired_and_forged_tokens_are_401(http, frontend_url, login, stack):
    token = login(10).token
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(
        {**claims, "sub": "1"}, "an-attacker-guess-that-is-not-the-real-secret", algorithm="HS256"
    )
    response = http.get(
        f"{frontend_url}/api/dashboard", headers={"Authorization": f"Bearer {forged}"}, timeout=10
    )
    assert _assert_json_error(response, 401)["code"] == "invalid_token"
    expired_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    # The stack signs with AUTH_TOKEN_SECRET, or the secret it generated for itself.
    secret = stack_secrets(stack.run_dir, os.environ)["AUTH_TOKEN_SECRET"]
    expired = jwt.encode({**claims, "exp": expired_at}, secret, algorithm="HS256")
    response = http.get(
        f"{frontend_url}/api/dashboard", headers={"Authorization": f"Bearer {expired}"}, timeout=10
    )
    assert _assert_json_error(response, 401)["code"] == "token_expired"
