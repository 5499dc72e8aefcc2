"""The gateway against real fake auth and user servers: answers and spans."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from services.gateway.app import create_app
from services.gateway.routes import FANOUT_SPAN
from tests.unit.gateway.fakes import (
    BROKEN_TOKEN,
    BROKEN_USER,
    EMAIL,
    GOOD_TOKEN,
    MAX_BODY,
    MISSING_USER,
    PASSWORD,
    SHORT_BUDGET,
    SLOW_TOKEN,
    SLOW_USER,
    USER_ID,
    activity,
    closed_port_url,
    profile,
)
from tests.unit.gateway.spantools import (
    assert_no_secret,
    assert_traceresponse,
    call,
    children,
    of_kind,
    trace_ids,
)

GOOD = {"Authorization": f"Bearer {GOOD_TOKEN}"}


def _server_span(spans, name: str):
    span = spans.one(name)
    assert span.kind is SpanKind.SERVER
    return span


async def test_get_user_verifies_then_fetches_the_profile(gateway, stack, spans):
    response, body = await call(gateway, "GET", f"/api/users/{USER_ID}", headers=GOOD)

    assert response.status == 200
    assert body == profile(USER_ID)
    server = _server_span(spans, "GET /api/users/{id}")
    assert server.parent is None
    assert server.attributes["http.request.method"] == "GET"
    assert server.attributes["http.route"] == "/api/users/{id}"
    assert server.attributes["http.response.status_code"] == 200
    assert server.status.status_code is StatusCode.UNSET
    assert_traceresponse(response, server)

    verify, fetch = children(spans.all(), server)
    assert (verify.kind, fetch.kind) == (SpanKind.CLIENT, SpanKind.CLIENT)
    assert verify.attributes["http.request.method"] == "POST"
    assert verify.attributes["url.full"] == f"{stack.auth_url}/verify"
    assert fetch.attributes["url.full"] == f"{stack.user_url}/users/{USER_ID}"
    assert fetch.attributes["http.response.status_code"] == 200
    assert verify.end_time <= fetch.start_time, "verify must finish before user is called"

    # The fakes' server spans hang under the client spans that called them.
    assert [s.name for s in children(spans.all(), verify)] == ["POST /verify"]
    assert [s.name for s in children(spans.all(), fetch)] == ["GET /users/{id}"]
    assert len(trace_ids(spans.all())) == 1
    assert len(spans.all()) == 5


async def test_the_token_goes_to_auth_only_and_never_into_spans(gateway, stack, spans):
    await call(gateway, "GET", f"/api/users/{USER_ID}", headers=GOOD)

    assert [s.authorization for s in stack.auth.seen] == [f"Bearer {GOOD_TOKEN}"]
    assert [s.authorization for s in stack.user.seen] == [None]
    server = spans.one("GET /api/users/{id}")
    trace_id = format(server.context.trace_id, "032x")
    assert all(s.traceparent.split("-")[1] == trace_id for s in stack.auth.seen + stack.user.seen)
    assert_no_secret(spans.all(), GOOD_TOKEN)


async def test_dashboard_fans_out_concurrently_under_one_span(gateway, stack, spans):
    # The barrier makes both user handlers wait for each other: sequential calls would fail.
    stack.user.barrier = asyncio.Barrier(2)
    response, body = await call(gateway, "GET", "/api/dashboard", headers=GOOD)

    assert response.status == 200, body
    assert body == {"profile": profile(USER_ID), "activity": activity(USER_ID, 10)}
    server = _server_span(spans, "GET /api/dashboard")
    assert server.attributes["http.route"] == "/api/dashboard"
    assert_traceresponse(response, server)

    verify, fanout = children(spans.all(), server)
    assert verify.kind is SpanKind.CLIENT
    assert verify.end_time <= fanout.start_time
    assert (fanout.name, fanout.kind) == (FANOUT_SPAN, SpanKind.INTERNAL)
    assert fanout.status.status_code is StatusCode.UNSET

    calls = children(spans.all(), fanout)
    assert [s.kind for s in calls] == [SpanKind.CLIENT, SpanKind.CLIENT]
    urls = sorted(s.attributes["url.full"] for s in calls)
    base = f"{stack.user_url}/users/{USER_ID}"
    assert urls == [base, f"{base}/activity?limit=10"]
    # Overlap: each call started before the other one ended.
    assert max(s.start_time for s in calls) < min(s.end_time for s in calls)
    assert all(fanout.start_time <= s.start_time and s.end_time <= fanout.end_time for s in calls)
    assert len(trace_ids(spans.all())) == 1


async def test_login_goes_to_auth_without_verify(gateway, stack, spans):
    credentials = {"email": EMAIL, "password": PASSWORD}
    response, body = await call(gateway, "POST", "/api/login", json=credentials)

    assert response.status == 200
    assert body == {"token": GOOD_TOKEN, "user_id": USER_ID}
    assert [s.path for s in stack.auth.seen] == ["/login"]
    server = _server_span(spans, "POST /api/login")
    assert server.attributes["http.route"] == "/api/login"
    assert server.attributes["http.response.status_code"] == 200
    (login,) = children(spans.all(), server)
    assert login.kind is SpanKind.CLIENT
    assert login.attributes["url.full"] == f"{stack.auth_url}/login"
    assert_traceresponse(response, server)
    assert_no_secret(spans.all(), PASSWORD, GOOD_TOKEN)


async def test_bad_credentials_pass_through_as_401(gateway, spans):
    credentials = {"email": EMAIL, "password": "wrong"}
    response, body = await call(gateway, "POST", "/api/login", json=credentials)

    assert response.status == 401
    assert body["error"]["code"] == "invalid_credentials"
    server = _server_span(spans, "POST /api/login")
    assert server.status.status_code is StatusCode.UNSET
    assert body["error"]["trace_id"] == format(server.context.trace_id, "032x")


async def test_bad_token_is_401_with_auths_code(gateway, stack, spans):
    headers = {"Authorization": "Bearer forged"}
    response, body = await call(gateway, "GET", f"/api/users/{USER_ID}", headers=headers)

    assert response.status == 401
    assert body["error"]["code"] == "invalid_token"
    assert body["error"]["status"] == 401
    server = _server_span(spans, "GET /api/users/{id}")
    assert server.attributes["http.response.status_code"] == 401
    assert server.status.status_code is StatusCode.UNSET
    assert server.events == ()
    (verify,) = children(spans.all(), server)
    assert verify.kind is SpanKind.CLIENT
    assert verify.status.status_code is StatusCode.ERROR
    assert verify.attributes["http.response.status_code"] == 401
    assert stack.user.seen == [], "user must not be called without a valid token"
    assert_traceresponse(response, server)


async def test_missing_token_is_401(gateway, stack, spans):
    response, body = await call(gateway, "GET", "/api/dashboard")

    assert response.status == 401
    assert body["error"]["status"] == 401
    assert stack.user.seen == []
    assert_traceresponse(response, _server_span(spans, "GET /api/dashboard"))


async def test_unknown_user_is_404_and_not_a_server_error(gateway, spans):
    path = f"/api/users/{MISSING_USER}"
    response, body = await call(gateway, "GET", path, headers=GOOD)

    assert response.status == 404
    assert body["error"]["code"] == "user_not_found"
    server = _server_span(spans, "GET /api/users/{id}")
    assert server.attributes["http.response.status_code"] == 404
    assert server.status.status_code is StatusCode.UNSET
    _verify, fetch = children(spans.all(), server)
    assert fetch.attributes["http.response.status_code"] == 404
    assert_traceresponse(response, server)


async def test_non_integer_id_is_400_without_calling_user(gateway, stack, spans):
    response, body = await call(gateway, "GET", "/api/users/abc", headers=GOOD)

    assert response.status == 400
    assert body["error"]["code"] == "invalid_parameter"
    assert stack.user.seen == []
    assert_traceresponse(response, _server_span(spans, "GET /api/users/{id}"))


async def test_user_failure_is_502_recorded_on_the_server_span(gateway, spans):
    path = f"/api/users/{BROKEN_USER}"
    response, body = await call(gateway, "GET", path, headers=GOOD)

    assert response.status == 502
    assert body["error"]["code"] == "bad_gateway"
    server = _server_span(spans, "GET /api/users/{id}")
    assert server.attributes["http.response.status_code"] == 502
    assert server.status.status_code is StatusCode.ERROR
    assert [e.name for e in server.events] == ["exception"]
    _verify, fetch = children(spans.all(), server)
    assert fetch.status.status_code is StatusCode.ERROR
    assert_traceresponse(response, server)


async def test_auth_failure_is_502(gateway, stack, spans):
    headers = {"Authorization": f"Bearer {BROKEN_TOKEN}"}
    response, body = await call(gateway, "GET", "/api/dashboard", headers=headers)

    assert response.status == 502
    assert body["error"]["message"] == "auth failed with status 500"
    assert stack.user.seen == []
    assert _server_span(spans, "GET /api/dashboard").status.status_code is StatusCode.ERROR


async def test_slow_user_is_504(gateway, spans):
    path = f"/api/users/{SLOW_USER}"
    response, body = await call(gateway, "GET", path, headers={**GOOD, **SHORT_BUDGET})

    assert response.status == 504
    assert body["error"]["code"] == "gateway_timeout"
    server = _server_span(spans, "GET /api/users/{id}")
    assert server.status.status_code is StatusCode.ERROR
    _verify, fetch = children(spans.all(), server)
    assert fetch.kind is SpanKind.CLIENT
    assert fetch.status.status_code is StatusCode.ERROR
    assert_traceresponse(response, server)


async def test_slow_auth_is_504(gateway, stack):
    headers = {"Authorization": f"Bearer {SLOW_TOKEN}", **SHORT_BUDGET}
    response, body = await call(gateway, "GET", f"/api/users/{USER_ID}", headers=headers)

    assert response.status == 504
    assert body["error"]["message"] == "auth timed out"
    assert stack.user.seen == []


async def test_user_down_is_503(aiohttp_client, stack, spans):
    gateway = await aiohttp_client(create_app(stack.settings(user_url=closed_port_url())))
    response, body = await call(gateway, "GET", f"/api/users/{USER_ID}", headers=GOOD)

    assert response.status == 503
    assert body["error"]["code"] == "service_unavailable"
    server = _server_span(spans, "GET /api/users/{id}")
    assert server.status.status_code is StatusCode.ERROR
    _verify, fetch = children(spans.all(), server)
    assert fetch.status.status_code is StatusCode.ERROR
    assert [e.name for e in fetch.events] == ["exception"]
    assert_traceresponse(response, server)


async def test_a_failed_fanout_branch_marks_the_fanout_span(gateway, stack, spans):
    stack.user.broken_activity = True
    response, body = await call(gateway, "GET", "/api/dashboard", headers=GOOD)

    assert response.status == 502
    assert body["error"]["code"] == "bad_gateway"
    fanout = spans.one(FANOUT_SPAN)
    assert fanout.status.status_code is StatusCode.ERROR
    assert [e.name for e in fanout.events] == ["exception"]
    calls = children(spans.all(), fanout)
    assert len(calls) == 2
    assert all(s.end_time <= fanout.end_time for s in calls)
    server = _server_span(spans, "GET /api/dashboard")
    assert server.status.status_code is StatusCode.ERROR
    assert_traceresponse(response, server)


BAD_BODIES = [
    pytest.param(b"{not json", "application/json", 400, "malformed_json", id="malformed"),
    pytest.param(b"[1, 2]", "application/json", 400, "malformed_json", id="not-an-object"),
    pytest.param(b'{"email": "a@b.c"}', "application/json", 422, "validation_failed", id="missing"),
    pytest.param(
        b'{"email": "a@b.c", "password": 42}',
        "application/json",
        422,
        "validation_failed",
        id="wrong-type",
    ),
    pytest.param(b"x" * (MAX_BODY + 1), "application/json", 413, "payload_too_large", id="big"),
    pytest.param(b"email=a", "text/plain", 415, "unsupported_media_type", id="not-json"),
]


@pytest.mark.parametrize(("data", "content_type", "status", "code"), BAD_BODIES)
async def test_bad_login_bodies_never_reach_auth(
    gateway, stack, spans, data, content_type, status, code
):
    headers = {"Content-Type": content_type}
    response, body = await call(gateway, "POST", "/api/login", data=data, headers=headers)

    assert response.status == status
    assert body["error"]["code"] == code
    assert stack.auth.seen == []
    server = _server_span(spans, "POST /api/login")
    assert server.attributes["http.response.status_code"] == status
    assert of_kind(spans.all(), SpanKind.CLIENT) == []
    assert_traceresponse(response, server)


async def test_unknown_route_is_404_json(gateway, spans):
    response, body = await call(gateway, "GET", "/api/nothing-here")

    assert response.status == 404
    assert body["error"]["code"] == "not_found"
    (server,) = spans.all()
    assert server.kind is SpanKind.SERVER
    assert server.attributes["http.response.status_code"] == 404
    assert_traceresponse(response, server)


async def test_wrong_method_is_405_json(gateway):
    response, body = await call(gateway, "GET", "/api/login")

    assert response.status == 405
    assert body["error"]["status"] == 405


async def test_readyz_checks_auth_and_user(aiohttp_client, gateway, stack, spans):
    response, body = await call(gateway, "GET", "/readyz")
    assert response.status == 200
    assert body["checks"] == {"auth": "ok", "user": "ok"}

    broken = await aiohttp_client(create_app(stack.settings(auth_url=closed_port_url())))
    response, body = await call(broken, "GET", "/readyz")
    assert response.status == 503
    assert body["checks"] == {"auth": "failing", "user": "ok"}
    assert "auth" in body["message"]
    assert spans.all() == [], "health probes make no spans"


async def test_healthz_needs_no_dependency(aiohttp_client, stack):
    settings = stack.settings(auth_url=closed_port_url(), user_url=closed_port_url())
    client = await aiohttp_client(create_app(settings))
    response, body = await call(client, "GET", "/healthz")
    assert (response.status, body) == (200, {"status": "ok"})
