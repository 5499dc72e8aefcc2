"""The db service against a real PostgreSQL: answers, SQL spans, readiness, starvation."""

from __future__ import annotations

import time

import psycopg
import pytest
from argon2 import PasswordHasher
from opentelemetry.trace import SpanKind, StatusCode

from services.db.app import app_pool, create_app
from services.db.seed import SEED_ACTIVITY_PER_USER, seed_activity, seed_password, seed_user
from services.db.store import FIND_CREDENTIALS, FIND_PROFILE, LIST_ACTIVITY
from tests.integration.db.conftest import db_settings

pytestmark = pytest.mark.integration


def _sql_spans(spans) -> list:
    return [s for s in spans.all() if s.attributes.get("db.system") == "postgresql"]


def _only_server_span(spans):
    (server,) = [s for s in spans.all() if s.kind is SpanKind.SERVER]
    return server


def _statement(span) -> str:
    return span.attributes.get("db.statement") or span.attributes["db.query.text"]


def test_lookup_returns_a_verifiable_hash(client):
    response = client.post("/users/lookup", json={"email": seed_user(5).email})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["email"]) == (5, "user0005@tracelab.test")
    assert body["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PasswordHasher().verify(body["password_hash"], seed_password(5))


def test_lookup_ignores_case_and_surrounding_space(client):
    response = client.post("/users/lookup", json={"email": "  User0042@TraceLab.TEST "})
    assert response.status_code == 200
    assert response.get_json()["id"] == 42


def test_unknown_email_and_user_are_404(client, spans):
    response = client.post("/users/lookup", json={"email": "nobody@tracelab.test"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "user_not_found"
    server = _only_server_span(spans)
    assert server.status.status_code is StatusCode.UNSET
    for path in ("/users/999999", "/users/999999/activity"):
        assert client.get(path).status_code == 404


def test_profile(client):
    user = seed_user(7)
    response = client.get("/users/7")
    assert response.status_code == 200
    assert response.get_json() == {
        "id": 7,
        "email": user.email,
        "name": user.name,
        "created_at": user.created_at.isoformat(),
    }


def test_activity_is_newest_first_and_matches_the_seed(client):
    newest_first = sorted(seed_activity(9), key=lambda a: a.created_at, reverse=True)
    expected = [
        {"id": a.id, "kind": a.kind, "detail": a.detail, "created_at": a.created_at.isoformat()}
        for a in newest_first
    ]
    default = client.get("/users/9/activity").get_json()["items"]
    assert default == expected[:10]
    assert client.get("/users/9/activity?limit=3").get_json()["items"] == expected[:3]
    everything = client.get("/users/9/activity?limit=100").get_json()["items"]
    assert everything == expected and len(everything) == SEED_ACTIVITY_PER_USER


def test_a_user_without_activity_has_an_empty_feed(client, database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        user_id = conn.execute(
            "INSERT INTO users (email, name, password_hash) VALUES (%s, %s, %s) RETURNING id",
            ("quiet@tracelab.test", "Quiet User", "$argon2id$unused"),
        ).fetchone()[0]
        try:
            assert user_id > 1000, "the seed moved the identity sequence past its ids"
            response = client.get(f"/users/{user_id}/activity")
            assert response.status_code == 200
            assert response.get_json() == {"items": []}
        finally:
            conn.execute("DELETE FROM users WHERE id = %s", (user_id,))


@pytest.mark.parametrize(
    ("request_args", "route", "statement"),
    [
        (("GET", "/users/11"), "/users/<user_id>", FIND_PROFILE),
        (("GET", "/users/11/activity?limit=4"), "/users/<user_id>/activity", LIST_ACTIVITY),
    ],
)
def test_sql_span_is_a_child_of_the_server_span(client, spans, request_args, route, statement):
    method, path = request_args
    assert client.open(path, method=method).status_code == 200
    server = _only_server_span(spans)
    assert server.attributes["http.route"] == route
    (sql,) = _sql_spans(spans)
    assert sql.kind is SpanKind.CLIENT
    assert sql.name == "SELECT"
    assert sql.parent.span_id == server.context.span_id
    assert sql.context.trace_id == server.context.trace_id
    assert _statement(sql) == statement
    assert "db.statement.parameters" not in sql.attributes
    assert sql.attributes["db.name"] == "tracelab"
    assert sql.status.status_code is StatusCode.UNSET


def test_sql_spans_carry_no_parameter_values(client, spans):
    email = seed_user(13).email
    assert client.post("/users/lookup", json={"email": email}).status_code == 200
    (sql,) = _sql_spans(spans)
    assert _statement(sql) == FIND_CREDENTIALS
    for span in spans.all():
        for value in span.attributes.values():
            assert email not in str(value)
            assert "$argon2id$" not in str(value)


def test_readiness_runs_select_1_without_spans(client, spans):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"postgresql": "ok"}
    assert spans.all() == []


def test_a_starved_pool_answers_503_in_time(database_url, spans):
    app = create_app(
        db_settings(database_url, pool_min_size=1, pool_max_size=1, pool_timeout_s=0.5)
    )
    pool = app_pool(app)
    pool.wait(timeout=10)
    try:
        with pool.connection():  # the only connection is busy
            started = time.monotonic()
            response = app.test_client().get("/users/1")
            elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "database_unavailable"
        assert 0.4 < elapsed < 3
        server = _only_server_span(spans)
        assert server.status.status_code is StatusCode.ERROR
        assert [e.attributes["exception.type"] for e in server.events] == [
            "psycopg_pool.PoolTimeout"
        ]
        # Once the connection is back, the same app answers again.
        assert app.test_client().get("/users/1").status_code == 200
    finally:
        pool.close()
