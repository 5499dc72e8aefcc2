"""The fault registry and the admin API every service mounts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.common import admin, faults
from services.common.config import ServiceSettings
from services.common.flask_support import create_flask_app

TOKEN = admin.DEVELOPMENT_ADMIN_TOKEN


@pytest.fixture(autouse=True)
def all_off() -> Iterator[None]:
    faults.REGISTRY.disable_all()
    yield
    faults.REGISTRY.disable_all()


def test_every_scenario_of_the_issue_is_in_the_catalog():
    assert set(faults.SCENARIOS) == {
        "slow-query",
        "n-plus-one",
        "sequential-fanout",
        "pool-starvation",
        "flaky-auth",
        "retry-storm",
        "lost-context",
        "blocking-loop",
    }
    owners = {name: s.services for name, s in faults.SCENARIOS.items()}
    assert owners["slow-query"] == ("db",) and owners["flaky-auth"] == ("auth",)
    assert owners["sequential-fanout"] == ("gateway",) and owners["retry-storm"] == ("db", "user")


def test_enable_with_overrides_and_disable():
    registry = faults.Registry()
    assert registry.params("flaky-auth") is None
    assert registry.enable("flaky-auth", {"rate": 1}) == {"rate": 1.0}
    assert registry.params("flaky-auth") == {"rate": 1.0}
    assert registry.disable("flaky-auth") is True
    assert registry.disable("flaky-auth") is False
    assert registry.params("flaky-auth") is None


@pytest.mark.parametrize(
    "overrides, message",
    [({"nope": 1}, "unknown parameter"), ({"rate": "high"}, "must be a number")],
)
def test_bad_parameters_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        faults.Registry().enable("flaky-auth", overrides)


def test_unknown_scenario_raises():
    with pytest.raises(faults.UnknownScenario):
        faults.Registry().enable("no-such-thing")


def test_scenarios_from_the_environment():
    registry = faults.Registry()
    names = registry.load_env({faults.SCENARIOS_ENV: " slow-query, n-plus-one ,"})
    assert names == ["slow-query", "n-plus-one"]
    assert set(registry.snapshot()) == {"slow-query", "n-plus-one"}


def test_roll_uses_the_rate():
    assert faults.roll(0.5, rng=lambda: 0.49) is True
    assert faults.roll(0.5, rng=lambda: 0.5) is False
    assert faults.roll(0.0) is False


def test_authorize_missing_wrong_and_right_token(monkeypatch):
    monkeypatch.setenv(admin.TOKEN_ENV, "s3cret")
    with pytest.raises(faults_error()) as missing:
        admin.authorize(None)
    assert missing.value.status == 401
    with pytest.raises(faults_error()) as wrong:
        admin.authorize("s3cre")
    assert wrong.value.status == 403
    admin.authorize("s3cret")


def faults_error():
    from services.common.errors import ApiError

    return ApiError


@pytest.fixture
def client(spans):
    app = create_flask_app(__name__, ServiceSettings(name="auth", port=1))
    return app.test_client()


def test_flask_admin_api_switches_and_reports(client, spans):
    headers = {admin.TOKEN_HEADER: TOKEN}
    url = admin.SCENARIOS_PATH + "/flaky-auth"
    answer = client.put(url, json={"params": {"rate": 0.25}}, headers=headers)
    assert answer.status_code == 200
    assert answer.get_json()["active"] is True
    assert faults.active("flaky-auth") == {"rate": 0.25}
    listing = client.get(admin.SCENARIOS_PATH, headers=headers).get_json()
    assert listing["service"] == "auth"
    here = {e["name"] for e in listing["scenarios"] if e["here"]}
    assert here == {"flaky-auth"}
    assert client.delete(url, headers=headers).get_json()["active"] is False
    assert faults.active("flaky-auth") is None
    # Admin calls are never traced.
    assert not [s for s in spans.all() if "admin" in s.name]


@pytest.mark.parametrize(
    "headers, status",
    [({}, 401), ({admin.TOKEN_HEADER: "wrong"}, 403)],
)
def test_flask_admin_api_needs_the_token(client, headers, status):
    answer = client.put(admin.SCENARIOS_PATH + "/slow-query", headers=headers)
    assert answer.status_code == status
    assert faults.active("slow-query") is None


def test_flask_admin_api_rejects_bad_bodies_and_names(client):
    headers = {admin.TOKEN_HEADER: TOKEN}
    url = admin.SCENARIOS_PATH + "/flaky-auth"
    bad_json = client.put(url, data="{", headers=headers, content_type="application/json")
    assert bad_json.status_code == 400
    assert client.put(url, json={"params": {"x": 1}}, headers=headers).status_code == 422
    assert client.get(admin.SCENARIOS_PATH + "/nope", headers=headers).status_code == 404
