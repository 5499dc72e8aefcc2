"""The user service against a real fake db server: answers and spans."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from services.common import faults, scenarios
from services.common.deadline import BUDGET_HEADER
from services.user.app import create_app
from tests.unit.gateway.fakes import closed_port_url
from tests.unit.gateway.spantools import (
    assert_traceresponse,
    call,
    children,
    of_kind,
    trace_ids,
)
from tests.unit.user.fakes import (
    BROKEN_USER,
    MISSING_USER,
    SHORT_BUDGET_MS,
    SLOW_USER,
    USER_ID,
    activity,
    profile,
    user_settings,
)


def _server_span(spans, name: str):
    """The user service's own server span (the fake db names its routes alike)."""
    (span,) = [s for s in spans.named(name) if s.parent is None]
    assert span.kind is SpanKind.SERVER
    return span


async def test_profile_comes_from_db(user, db, spans):
    response, body = await call(user, "GET", f"/users/{USER_ID}")

    assert response.status == 200
    assert body == profile(USER_ID)
    server = _server_span(spans, "GET /users/{id}")
    assert server.parent is None
    assert server.attributes["http.request.method"] == "GET"
    assert server.attributes["http.route"] == "/users/{id}"
    assert server.attributes["http.response.status_code"] == 200
    assert_traceresponse(response, server)

    (fetch,) = children(spans.all(), server)
    assert fetch.kind is SpanKind.CLIENT
    assert fetch.attributes["url.full"] == f"{db.url}/users/{USER_ID}"
    assert fetch.attributes["http.response.status_code"] == 200
    # The fake db's server span sits under the client span: context was propagated.
    (db_server,) = children(spans.all(), fetch)
    assert (db_server.name, db_server.kind) == ("GET /users/{id}", SpanKind.SERVER)
    assert len(trace_ids(spans.all())) == 1


async def test_activity_passes_the_limit_to_db(user, db, spans):
    response, body = await call(user, "GET", f"/users/{USER_ID}/activity?limit=5")

    assert response.status == 200
    assert body == {"items": activity(USER_ID, 5)}
    assert db.fake.queries == [{"path": f"/users/{USER_ID}/activity", "limit": "5"}]
    server = _server_span(spans, "GET /users/{id}/activity")
    assert server.attributes["http.route"] == "/users/{id}/activity"
    (fetch,) = children(spans.all(), server)
    assert fetch.kind is SpanKind.CLIENT
    assert fetch.attributes["url.full"] == f"{db.url}/users/{USER_ID}/activity?limit=5"
    assert_traceresponse(response, server)


async def test_activity_limit_defaults_to_ten(user, db):
    response, body = await call(user, "GET", f"/users/{USER_ID}/activity")

    assert response.status == 200
    assert len(body["items"]) == 10
    assert db.fake.queries[0]["limit"] == "10"


@pytest.mark.parametrize(
    "path",
    [
        f"/users/{USER_ID}/activity?limit=0",
        f"/users/{USER_ID}/activity?limit=101",
        f"/users/{USER_ID}/activity?limit=ten",
        "/users/abc/activity",
        "/users/abc",
        "/users/0",
        "/users/-3",
    ],
)
async def test_bad_parameters_are_400_without_asking_db(user, db, spans, path):
    response, body = await call(user, "GET", path)

    assert response.status == 400
    assert body["error"]["code"] == "invalid_parameter"
    assert db.fake.queries == []
    (server,) = spans.all()
    assert server.kind is SpanKind.SERVER
    assert server.attributes["http.response.status_code"] == 400
    assert of_kind(spans.all(), SpanKind.CLIENT) == []
    assert_traceresponse(response, server)


@pytest.mark.parametrize("path", [f"/users/{MISSING_USER}", f"/users/{MISSING_USER}/activity"])
async def test_unknown_user_is_404_and_not_a_server_error(user, spans, path):
    response, body = await call(user, "GET", path)

    assert response.status == 404
    assert body["error"]["code"] == "user_not_found"
    server = of_kind(spans.all(), SpanKind.SERVER)[0]
    assert server.parent is None
    assert server.attributes["http.response.status_code"] == 404
    assert server.status.status_code is StatusCode.UNSET
    (fetch,) = children(spans.all(), server)
    assert fetch.status.status_code is StatusCode.ERROR
    assert_traceresponse(response, server)


async def test_db_failure_is_502_recorded_on_the_server_span(user, spans):
    response, body = await call(user, "GET", f"/users/{BROKEN_USER}")

    assert response.status == 502
    assert body["error"]["code"] == "bad_gateway"
    server = _server_span(spans, "GET /users/{id}")
    assert server.status.status_code is StatusCode.ERROR
    assert [e.name for e in server.events] == ["exception"]
    assert_traceresponse(response, server)


async def test_slow_db_is_504(user, spans):
    # Only this request has a short budget: db answers long after it.
    budget = {BUDGET_HEADER: str(SHORT_BUDGET_MS)}
    response, body = await call(user, "GET", f"/users/{SLOW_USER}", headers=budget)

    assert response.status == 504
    assert body["error"]["code"] == "gateway_timeout"
    server = _server_span(spans, "GET /users/{id}")
    (fetch,) = children(spans.all(), server)
    assert fetch.status.status_code is StatusCode.ERROR
    assert_traceresponse(response, server)


async def test_db_down_is_503(aiohttp_client, spans):
    client = await aiohttp_client(create_app(user_settings(closed_port_url())))
    response, body = await call(client, "GET", f"/users/{USER_ID}")

    assert response.status == 503
    assert body["error"]["code"] == "service_unavailable"
    server = _server_span(spans, "GET /users/{id}")
    assert server.status.status_code is StatusCode.ERROR
    (fetch,) = children(spans.all(), server)
    assert fetch.status.status_code is StatusCode.ERROR
    assert_traceresponse(response, server)


async def test_db_sending_garbage_is_502(user, db):
    db.fake.malformed = True
    response, body = await call(user, "GET", f"/users/{USER_ID}")

    assert response.status == 502
    assert body["error"]["message"] == "db sent a malformed profile"


async def test_unknown_route_is_404_json(user, spans):
    response, body = await call(user, "GET", "/nothing")

    assert response.status == 404
    assert body["error"]["code"] == "not_found"
    assert_traceresponse(response, spans.all()[0])


async def test_readyz_checks_db(aiohttp_client, user, spans):
    response, body = await call(user, "GET", "/readyz")
    assert (response.status, body["checks"]) == (200, {"db": "ok"})

    down = await aiohttp_client(create_app(user_settings(closed_port_url())))
    response, body = await call(down, "GET", "/readyz")
    assert (response.status, body["checks"]) == (503, {"db": "failing"})
    assert "db" in body["message"]
    assert spans.all() == [], "health probes make no spans"


async def test_slow_external_waits_for_the_partner_with_no_timeout(user, db, spans):
    faults.REGISTRY.enable(scenarios.SLOW_EXTERNAL, {"delay_ms": 60})
    try:
        response, body = await call(user, "GET", f"/users/{USER_ID}")
    finally:
        faults.REGISTRY.disable(scenarios.SLOW_EXTERNAL)

    assert response.status == 200 and body == profile(USER_ID)
    server = _server_span(spans, "GET /users/{id}")
    external, fetch = sorted(children(spans.all(), server), key=lambda s: s.start_time)
    assert external.kind is SpanKind.CLIENT
    assert f"/avatars/{USER_ID}?delay_ms=60" in external.attributes["url.full"]
    assert external.attributes["http.response.status_code"] == 200
    assert (external.end_time - external.start_time) / 1e6 >= 60
    assert children(spans.all(), external) == []  # the partner traces nothing
    assert fetch.attributes["url.full"] == f"{db.url}/users/{USER_ID}"
    assert external.end_time <= fetch.start_time  # the profile waited for it
