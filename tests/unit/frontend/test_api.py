"""The frontend's JSON API in front of a real (fake) gateway: spans, answers, errors."""

from __future__ import annotations

import io
import json

import pytest
from opentelemetry.trace import StatusCode

from tests.unit.frontend.fake_gateway import EMAIL, PASSWORD, TOKEN, error, profile
from tests.unit.frontend.helpers import (
    assert_json_error,
    client_spans,
    hex_ids,
    server_span,
    traceresponse_ids,
)

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_login_makes_a_server_span_and_a_client_span_to_the_gateway(client, gateway, spans):
    response = client.post("/api/login", json={"email": EMAIL, "password": PASSWORD})

    assert response.status_code == 200
    assert response.get_json() == {"token": TOKEN, "user_id": 1}
    server = server_span(spans, "POST /api/login")
    assert server.parent is None
    assert server.attributes["http.request.method"] == "POST"
    assert server.attributes["http.route"] == "/api/login"
    assert server.attributes["http.response.status_code"] == 200
    assert server.status.status_code is StatusCode.UNSET
    (outbound,) = client_spans(spans)
    assert outbound.name == "POST"
    assert outbound.parent.span_id == server.context.span_id
    assert outbound.context.trace_id == server.context.trace_id
    assert outbound.attributes["http.request.method"] == "POST"
    assert outbound.attributes["url.full"] == f"{gateway.url}/api/login"
    assert outbound.attributes["http.response.status_code"] == 200
    # What went over the wire: the gateway continues the frontend's trace under the client span.
    (received,) = gateway.calls("/api/login")
    trace_id, client_span_id = hex_ids(outbound)
    version, sent_trace_id, parent_id, flags = received.headers["traceparent"].split("-")
    assert (version, sent_trace_id, parent_id) == ("00", trace_id, client_span_id)
    assert int(flags, 16) & 0x01, "sampled flag"
    assert json.loads(received.body) == {"email": EMAIL, "password": PASSWORD}
    # traceresponse names the frontend's server span.
    assert traceresponse_ids(response) == hex_ids(server)


def test_no_secret_reaches_a_span(client, gateway, spans):
    client.post("/api/login", json={"email": EMAIL, "password": PASSWORD})
    client.get("/api/dashboard", headers=AUTH)

    assert len(spans.all()) == 4
    for span in spans.all():
        text = json.dumps(dict(span.attributes)) + json.dumps(
            [dict(e.attributes or {}) for e in span.events]
        )
        assert PASSWORD not in text and TOKEN not in text, span.name


def test_login_with_bad_credentials_passes_the_401_through(client, spans):
    response = client.post("/api/login", json={"email": EMAIL, "password": "wrong"})

    assert_json_error(response, 401, "invalid_credentials")
    server = server_span(spans, "POST /api/login")
    assert server.attributes["http.response.status_code"] == 401
    # A 4xx is the caller's fault: not an error of the server span.
    assert server.status.status_code is StatusCode.UNSET


LOGIN_BAD_BODIES = [
    ("malformed json", b'{"email": ', "application/json", 400, "malformed_json"),
    ("array body", b"[]", "application/json", 400, "malformed_json"),
    ("missing password", b'{"email": "a@b.test"}', "application/json", 422, "validation_failed"),
    ("wrong types", b'{"email": 1, "password": ["x"]}', "application/json", 422, None),
    ("empty email", b'{"email": " ", "password": "x"}', "application/json", 422, None),
    ("form body", b"email=a&password=b", "application/x-www-form-urlencoded", 415, None),
    ("no content type", b'{"email": "a", "password": "b"}', None, 415, None),
    ("oversized", b'{"email": "' + b"a" * 70_000 + b'"}', "application/json", 413, None),
]


@pytest.mark.parametrize(
    ("case", "body", "content_type", "status", "code"),
    LOGIN_BAD_BODIES,
    ids=[case[0] for case in LOGIN_BAD_BODIES],
)
def test_login_rejects_bad_bodies_without_calling_the_gateway(
    client, gateway, spans, case, body, content_type, status, code
):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/api/login", data=body, headers=headers)

    assert_json_error(response, status, code)
    assert gateway.received == []
    assert client_spans(spans) == []
    server = server_span(spans, "POST /api/login")
    assert server.attributes["http.response.status_code"] == status


def test_login_validation_names_every_bad_field(client):
    response = client.post("/api/login", json={"email": 1})

    details = assert_json_error(response, 422, "validation_failed")["details"]
    assert {problem["field"] for problem in details} == {"email", "password"}


def test_oversized_body_without_content_length_is_413(client, gateway):
    body = io.BytesIO(b'{"email": "' + b"a" * 70_000 + b'"}')
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}

    # gunicorn marks a chunked body as terminated; werkzeug then enforces MAX_CONTENT_LENGTH.
    response = client.post(
        "/api/login",
        input_stream=body,
        headers=headers,
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert_json_error(response, 413)
    assert gateway.received == []


def test_get_user_forwards_the_authorization_header_as_is(client, gateway, spans):
    response = client.get("/api/users/3", headers=AUTH)

    assert response.status_code == 200
    assert response.get_json() == profile(3)
    (received,) = gateway.calls("/api/users/3")
    assert received.headers["authorization"] == AUTH["Authorization"]
    server = server_span(spans, "GET /api/users/<user_id>")
    assert server.attributes["http.route"] == "/api/users/<user_id>"
    assert server.attributes["http.response.status_code"] == 200
    (outbound,) = client_spans(spans)
    assert outbound.parent.span_id == server.context.span_id
    assert traceresponse_ids(response) == hex_ids(server)


@pytest.mark.parametrize("raw_id", ["abc", "0", "-1", "1.5", "99999999999", "%20"])
def test_a_non_integer_user_id_is_a_json_400(client, gateway, spans, raw_id):
    response = client.get(f"/api/users/{raw_id}", headers=AUTH)

    assert_json_error(response, 400, "invalid_parameter")
    assert gateway.received == []
    assert server_span(spans, "GET /api/users/<user_id>").status.status_code is StatusCode.UNSET


def test_dashboard_returns_profile_and_activity(client, gateway, spans):
    response = client.get("/api/dashboard", headers=AUTH)

    assert response.status_code == 200
    body = response.get_json()
    assert body["profile"] == profile(1)
    assert [item["kind"] for item in body["activity"]] == ["login"]
    assert response.headers["Cache-Control"] == "no-store"
    server = server_span(spans, "GET /api/dashboard")
    assert server.attributes["http.route"] == "/api/dashboard"
    (outbound,) = client_spans(spans)
    assert outbound.parent.span_id == server.context.span_id
    assert gateway.calls("/api/dashboard")[0].headers["authorization"] == AUTH["Authorization"]


def test_missing_authorization_is_decided_downstream_and_passed_through(client, gateway):
    response = client.get("/api/dashboard")

    assert_json_error(response, 401, "missing_token")
    assert "authorization" not in gateway.calls("/api/dashboard")[0].headers


ERROR_MAPPING = [
    ("401 keeps status and code", 401, error(401, "invalid_token", "bad"), 401, "invalid_token"),
    ("404 keeps status and code", 404, error(404, "user_not_found", "no"), 404, "user_not_found"),
    ("plain 404 body", 404, None, 404, "not_found"),
    ("500 becomes 502", 500, error(500, "internal_error", "boom"), 502, "bad_gateway"),
    ("503 stays 503", 503, None, 503, "service_unavailable"),
]


@pytest.mark.parametrize(
    ("case", "gateway_status", "gateway_body", "status", "code"),
    ERROR_MAPPING,
    ids=[case[0] for case in ERROR_MAPPING],
)
def test_gateway_errors_map_to_the_documented_statuses(
    client, gateway, spans, case, gateway_status, gateway_body, status, code
):
    gateway.answer("GET", "/api/users/2", gateway_status, gateway_body)

    response = client.get("/api/users/2", headers=AUTH)

    assert_json_error(response, status, code)
    server = server_span(spans, "GET /api/users/<user_id>")
    assert server.attributes["http.response.status_code"] == status
    (outbound,) = client_spans(spans)
    assert outbound.name == "GET"
    assert outbound.attributes["http.response.status_code"] == gateway_status
    # Any 4xx/5xx answer is an error of the client span (semantic conventions), without
    # an exception event: the frontend records the failure where it saw it.
    assert outbound.status.status_code is StatusCode.ERROR
    assert outbound.events == ()
    if status >= 500:
        assert server.status.status_code is StatusCode.ERROR
        assert [event.name for event in server.events] == ["exception"]
    else:
        assert server.status.status_code is StatusCode.UNSET
        assert server.events == ()


@pytest.mark.parametrize(
    ("path", "answer"),
    [
        ("/api/dashboard", {"profile": profile(1)}),
        ("/api/dashboard", {"profile": {"id": "x"}, "activity": []}),
        ("/api/users/2", {"id": 2}),
        ("/api/users/2", None),
    ],
)
def test_a_malformed_gateway_answer_is_a_502(client, gateway, path, answer):
    gateway.answer("GET", path, 200, answer, raw=None if answer else b"<html>")

    assert_json_error(client.get(path, headers=AUTH), 502, "bad_gateway")


def test_a_malformed_login_answer_is_a_502(client, gateway):
    gateway.answer("POST", "/api/login", 200, {"token": "t"})

    response = client.post("/api/login", json={"email": EMAIL, "password": PASSWORD})

    assert_json_error(response, 502, "bad_gateway")


def test_gateway_down_is_503(make_app, closed_port_url, spans):
    response = make_app(closed_port_url).test_client().get("/api/dashboard", headers=AUTH)

    assert_json_error(response, 503, "service_unavailable")
    server = server_span(spans, "GET /api/dashboard")
    assert server.status.status_code is StatusCode.ERROR
    (outbound,) = client_spans(spans)
    assert outbound.status.status_code is StatusCode.ERROR
    assert outbound.parent.span_id == server.context.span_id


def test_gateway_timeout_is_504(make_app, gateway, spans):
    release = gateway.stall_until_released()
    client = make_app(timeout_s=0.3).test_client()

    response = client.post("/api/login", json={"email": EMAIL, "password": PASSWORD})
    release.set()

    assert_json_error(response, 504, "gateway_timeout")
    server = server_span(spans, "POST /api/login")
    assert server.status.status_code is StatusCode.ERROR
    assert server.attributes["http.response.status_code"] == 504


def test_an_unexpected_failure_is_a_json_500_recorded_on_the_server_span(
    make_app, monkeypatch, spans
):
    app = make_app()

    def explode(*_: object) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(type(app.extensions["tracelab.gateway_client"]), "dashboard", explode)

    response = app.test_client().get("/api/dashboard", headers=AUTH)

    assert_json_error(response, 500, "internal_error")
    assert "unexpected" not in response.get_data(as_text=True)
    server = server_span(spans, "GET /api/dashboard")
    assert server.status.status_code is StatusCode.ERROR
    assert server.events[0].attributes["exception.type"] == "RuntimeError"


def test_an_unknown_route_is_a_json_404(client, spans):
    assert_json_error(client.get("/api/nowhere"), 404, "not_found")
    assert_json_error(client.post("/api/dashboard"), 405)


def test_health_and_readiness(make_app, closed_port_url):
    up = make_app().test_client()
    down = make_app(closed_port_url).test_client()

    assert up.get("/healthz").get_json() == {"status": "ok"}
    ready = up.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"gateway": "ok"}
    not_ready = down.get("/readyz")
    assert not_ready.status_code == 503
    assert "gateway" in not_ready.get_json()["message"]
    assert down.get("/healthz").status_code == 200
