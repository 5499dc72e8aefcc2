"""``POST /login``: spans of a login, bad credentials and bad bodies."""

from __future__ import annotations

import jwt
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from services.auth.app import create_app
from tests.unit.auth.conftest import MAX_BODY, SECRET, TTL_S, auth_settings
from tests.unit.db.fake_db import (
    BROKEN_EMAIL,
    EMAIL,
    PASSWORD,
    PASSWORD_HASH,
    USER_ID,
    closed_port_url,
)
from tests.unit.db.spanasserts import (
    assert_http_server,
    assert_no_secret,
    children,
    server_span,
)


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert (error["status"], error["code"]) == (status, code)
    assert error["trace_id"]
    return error


def test_login_issues_a_token_for_the_user(client):
    response = client.post("/login", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["user_id"] == USER_ID
    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == str(USER_ID)
    assert claims["exp"] - claims["iat"] == TTL_S
    assert len(claims["jti"]) == 32


def test_login_trace_shape(client, fake_db, spans):
    response = client.post("/login", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200
    all_spans = spans.all()
    server = server_span(all_spans, "POST /login")
    assert_http_server(server, "POST", "/login", 200)
    assert server.parent is None
    assert server.attributes["enduser.id"] == str(USER_ID)

    lookup, verify, issue = children(all_spans, server)
    assert (lookup.name, lookup.kind) == ("POST", SpanKind.CLIENT)
    assert lookup.attributes["http.response.status_code"] == 200
    assert lookup.attributes["url.full"] == f"{fake_db.url}/users/lookup"
    assert (verify.name, verify.kind) == ("auth.password_verify", SpanKind.INTERNAL)
    assert (issue.name, issue.kind) == ("auth.token_issue", SpanKind.INTERNAL)
    for step in (verify, issue):
        assert step.attributes["enduser.id"] == str(USER_ID)
        assert step.status.status_code is StatusCode.UNSET
    assert len(all_spans) == 4

    # The db call carried this trace's context on the client span.
    traceparent = fake_db.requests[-1].headers["traceparent"]
    assert traceparent.split("-")[1:3] == [
        f"{server.context.trace_id:032x}",
        f"{lookup.context.span_id:016x}",
    ]
    assert response.headers["traceresponse"].split("-")[2] == f"{server.context.span_id:016x}"
    token = response.get_json()["token"]
    assert_no_secret(all_spans, PASSWORD, token, PASSWORD_HASH)


def test_wrong_password_and_unknown_email_get_the_same_401(client, spans):
    wrong = client.post("/login", json={"email": EMAIL, "password": "not-it"})
    unknown = client.post("/login", json={"email": "nobody@tracelab.test", "password": "x"})
    for response in (wrong, unknown):
        error = _error(response, 401, "invalid_credentials")
        assert error["message"] == "invalid email or password"
    all_spans = spans.all()
    servers = [s for s in all_spans if s.name == "POST /login"]
    assert len(servers) == 2
    for server in servers:
        assert_http_server(server, "POST", "/login", 401)
        names = [s.name for s in children(all_spans, server)]
        # The password check runs even for an unknown email (no timing oracle).
        assert names == ["POST", "auth.password_verify"]
    verifies = spans.named("auth.password_verify")
    assert [s.attributes.get("enduser.id") for s in verifies] == [str(USER_ID), None]
    assert spans.named("auth.token_issue") == []
    assert_no_secret(all_spans, "not-it", PASSWORD_HASH)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"email": ', "application/json", 400, "malformed_json"),
        (b"[]", "application/json", 400, "malformed_json"),
        (b'{"email": "user0007@tracelab.test"}', "application/json", 422, "validation_failed"),
        (b'{"email": 1, "password": ["x"]}', "application/json", 422, "validation_failed"),
        (b"email=a&password=b", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"{}", "text/plain", 415, "unsupported_media_type"),
        (b'{"email": "' + b"a" * MAX_BODY + b'"}', "application/json", 413, "payload_too_large"),
    ],
    ids=["malformed", "array", "missing-password", "wrong-types", "form", "text", "oversized"],
)
def test_bad_bodies(client, fake_db, spans, body, content_type, status, code):
    response = client.post("/login", data=body, headers={"Content-Type": content_type})
    _error(response, status, code)
    assert fake_db.requests == [], "a bad body never reaches db"
    server = server_span(spans.all(), "POST /login")
    assert_http_server(server, "POST", "/login", status)
    assert children(spans.all(), server) == []


def test_validation_lists_every_bad_field(client):
    response = client.post("/login", json={"email": 1})
    error = _error(response, 422, "validation_failed")
    assert error["details"] == [
        {"field": "email", "problem": "must be of type str"},
        {"field": "password", "problem": "is required"},
    ]


def test_db_failure_is_502_recorded_on_the_server_span(client, spans):
    _error(client.post("/login", json={"email": BROKEN_EMAIL, "password": "x"}), 502, "bad_gateway")
    server = server_span(spans.all(), "POST /login")
    assert_http_server(server, "POST", "/login", 502)
    assert [e.name for e in server.events] == ["exception"]
    (lookup,) = children(spans.all(), server)
    assert lookup.attributes["http.response.status_code"] == 500


def test_unreachable_db_is_503():
    client = create_app(auth_settings(closed_port_url())).test_client()
    _error(
        client.post("/login", json={"email": EMAIL, "password": PASSWORD}),
        503,
        "service_unavailable",
    )
