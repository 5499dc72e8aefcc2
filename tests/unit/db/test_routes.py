"""The db service's validation and failure paths, which need no PostgreSQL."""

from __future__ import annotations

import time

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from services.db.app import app_pool, create_app
from tests.unit.db.conftest import MAX_BODY, db_settings
from tests.unit.db.fake_db import closed_port_url
from tests.unit.db.spanasserts import assert_http_server, server_span


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert (error["status"], error["code"]) == (status, code)
    assert error["message"]
    return error


@pytest.mark.parametrize("user_id", ["abc", "0", "-3", "1.5", "99999999999"])
def test_bad_user_ids_are_400(client, spans, user_id):
    _error(client.get(f"/users/{user_id}"), 400, "invalid_parameter")
    _error(client.get(f"/users/{user_id}/activity"), 400, "invalid_parameter")
    profile = server_span(spans.all(), "GET /users/<user_id>")
    assert_http_server(profile, "GET", "/users/<user_id>", 400)
    activity = server_span(spans.all(), "GET /users/<user_id>/activity")
    assert_http_server(activity, "GET", "/users/<user_id>/activity", 400)


@pytest.mark.parametrize("limit", ["0", "101", "ten", "", "-1"])
def test_bad_activity_limits_are_400(client, limit):
    error = _error(client.get(f"/users/1/activity?limit={limit}"), 400, "invalid_parameter")
    assert "limit" in error["message"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"email": ', "application/json", 400, "malformed_json"),
        (b'["user0001@tracelab.test"]', "application/json", 400, "malformed_json"),
        (b"{}", "application/json", 422, "validation_failed"),
        (b'{"email": 42}', "application/json", 422, "validation_failed"),
        (b'{"email": "   "}', "application/json", 422, "validation_failed"),
        (b"email=user0001@tracelab.test", "application/x-www-form-urlencoded", 415, None),
        (b'{"email": "' + b"a" * MAX_BODY + b'"}', "application/json", 413, None),
    ],
    ids=["truncated", "array", "missing", "number", "blank", "form", "oversized"],
)
def test_bad_lookup_bodies(client, spans, body, content_type, status, code):
    response = client.post("/users/lookup", data=body, headers={"Content-Type": content_type})
    expected = {415: "unsupported_media_type", 413: "payload_too_large"}.get(status, code)
    _error(response, status, expected)
    span = server_span(spans.all(), "POST /users/lookup")
    assert_http_server(span, "POST", "/users/lookup", status)
    assert not [s for s in spans.all() if s.kind is SpanKind.CLIENT], "no SQL may run"


def test_validation_problems_name_the_field(client):
    error = _error(client.post("/users/lookup", json={"mail": "x"}), 422, "validation_failed")
    assert error["details"] == [{"field": "email", "problem": "is required"}]


def test_unreachable_database_is_503_and_an_error_on_the_server_span(client, spans):
    error = _error(client.get("/users/1"), 503, "database_unavailable")
    assert "trace_id" in error
    span = server_span(spans.all(), "GET /users/<user_id>")
    assert_http_server(span, "GET", "/users/<user_id>", 503)
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]
    assert span.events[0].attributes["exception.type"].endswith("PoolClosed")


def test_every_query_endpoint_answers_503_without_a_database(client):
    _error(client.get("/users/1/activity"), 503, "database_unavailable")
    _error(client.post("/users/lookup", json={"email": "a@b.c"}), 503, "database_unavailable")


def test_readiness_names_postgresql_when_it_is_down(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"] == {"postgresql": "failing"}
    assert "postgresql" in body["message"]


def test_liveness_needs_no_database(client, spans):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert spans.all() == [], "health probes are not traced"


def test_starved_pool_answers_503_quickly_instead_of_hanging():
    # A real pool, opened against a port where nothing listens: getconn times out.
    settings = db_settings(closed_port_url().replace("http://", "postgresql://tracelab@"))
    app = create_app(settings)
    try:
        started = time.monotonic()
        response = app.test_client().get("/users/1/activity")
        elapsed = time.monotonic() - started
    finally:
        app_pool(app).close()
    _error(response, 503, "database_unavailable")
    assert elapsed < settings.pool_timeout_s + 2


def test_unknown_routes_are_json_404(client):
    _error(client.get("/nowhere"), 404, "not_found")
    _error(client.delete("/users/1"), 405, "method_not_allowed")
