"""Health probes and the admin API make no spans; the exclusion looks at the path only."""

from __future__ import annotations

import pytest
from opentelemetry.util.http import parse_excluded_urls

from services.common import exclusions
from services.common.config import ServiceSettings
from services.frontend.app import create_app as create_frontend
from services.frontend.settings import Settings as FrontendSettings
from services.user.app import create_app as create_user
from services.user.settings import Settings as UserSettings
from tests.unit.gateway.spantools import call


def _frontend():
    settings = FrontendSettings(
        service=ServiceSettings(name="frontend", port=8080), gateway_url="http://127.0.0.1:1"
    )
    return create_frontend(settings).test_client()


@pytest.mark.parametrize(
    "path", ["/api/users/abc?x=/healthz", "/api/users/abc?next=/readyz", "/api/users/abc#/admin/"]
)
def test_a_health_path_in_the_query_does_not_hide_a_request(spans, path):
    response = _frontend().get(path)
    assert response.status_code == 400
    assert response.headers.get("traceresponse"), "the request lost its traceresponse"
    assert [s.name for s in spans.all()] == ["GET /api/users/<user_id>"]


@pytest.mark.parametrize("path", ["/healthz", "/healthz?probe=1", "/readyz?x=/api", "/admin/x"])
def test_health_probes_and_admin_calls_make_no_span(spans, path):
    response = _frontend().get(path)
    assert "traceresponse" not in response.headers
    assert spans.all() == []


def _excluded(patterns: str, target: str) -> bool:
    return parse_excluded_urls(patterns).url_disabled(target)


@pytest.mark.parametrize(
    ("target", "excluded"),
    [
        ("http://127.0.0.1:8080/healthz", True),
        ("http://127.0.0.1:8080/healthz?x=1", True),
        ("https://tracelab.example/readyz", True),
        ("http://h/admin/scenarios/slow-query", True),
        ("http://h/api/dashboard?x=/healthz", False),
        ("http://h/api/users/1/healthz", False),
        ("http://h/healthzz", False),
        ("http://h/api/admin/", False),
    ],
)
def test_url_patterns_match_the_path_from_its_start(target, excluded):
    assert _excluded(exclusions.for_urls(exclusions.UNTRACED), target) is excluded


@pytest.mark.parametrize(
    ("path", "excluded"),
    [("/healthz", True), ("/admin/scenarios", True), ("/api/healthz", False), ("/x/admin/", False)],
)
def test_path_patterns_match_from_the_start(path, excluded):
    assert _excluded(exclusions.for_paths(exclusions.UNTRACED), path) is excluded


async def test_aiohttp_services_exclude_by_path(aiohttp_client, spans):
    settings = UserSettings(
        service=ServiceSettings(name="user", port=8083), db_url="http://127.0.0.1:1"
    )
    client = await aiohttp_client(create_user(settings))
    await call(client, "GET", "/healthz?x=1")
    assert spans.all() == []
    await call(client, "GET", "/users/abc?x=/healthz")
    assert [s.name for s in spans.all()] == ["GET /users/{id}"]
