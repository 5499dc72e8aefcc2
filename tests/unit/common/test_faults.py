"""The fault registry and the admin API every service mounts."""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from services.common import admin, faults, scenarios
from services.common.config import ServiceSettings
from services.common.flask_support import create_flask_app

TOKEN = "a-token-for-these-tests-only"


@pytest.fixture(autouse=True)
def admin_token(monkeypatch) -> None:
    monkeypatch.setenv(admin.TOKEN_ENV, TOKEN)


@pytest.fixture(autouse=True)
def all_off() -> Iterator[None]:
    faults.REGISTRY.disable_all()
    yield
    faults.REGISTRY.disable_all()


def test_the_declared_owners_and_the_views_over_the_declaration():
    assert scenarios.SLOW_QUERY.owner_services == ("db",)
    assert scenarios.FLAKY_AUTH.owner_services == ("auth",)
    assert scenarios.SEQUENTIAL_FANOUT.owner_services == ("gateway",)
    assert scenarios.RETRY_STORM.owner_services == ("db", "user")
    assert scenarios.SLOW_EXTERNAL.owner_services == ("user",)
    assert list(faults.SCENARIOS) == list(scenarios.CATALOGUE.names())
    assert all(faults.SCENARIOS[s.name] is s for s in scenarios.CATALOGUE.all())
    assert sorted(faults.SCENARIO_OWNERS) == ["auth", "db", "gateway", "user"]


def test_a_typo_is_an_error_not_a_scenario_that_is_off():
    with pytest.raises(faults.UnknownScenario, match=r"unknown scenario 'slow-qurey'; known: "):
        faults.active("slow-qurey")
    assert faults.active(scenarios.SLOW_QUERY) is None
    faults.REGISTRY.enable(scenarios.SLOW_QUERY)
    assert faults.active(scenarios.SLOW_QUERY) == faults.active("slow-query")


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
    expected = [scenarios.SLOW_QUERY.name, scenarios.N_PLUS_ONE.name]
    assert names == expected and list(registry.snapshot()) == expected


def test_a_typo_in_the_environment_refuses_to_start():
    registry = faults.Registry()
    env = {faults.SCENARIOS_ENV: "slow-query,flaky-auht"}
    with pytest.raises(faults.UnknownScenario, match="TRACELAB_SCENARIOS names unknown"):
        registry.load_env(env)
    assert registry.snapshot() == {}  # nothing switched on, not even the good name
    with pytest.raises(SystemExit) as refused:
        faults.check_env(env)
    message = str(refused.value.code)
    assert "'flaky-auht'" in message and "known: slow-query, n-plus-one" in message
    faults.check_env({faults.SCENARIOS_ENV: "flaky-auth"})  # a right name starts


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


def test_without_a_token_the_admin_api_is_off(client, monkeypatch):
    monkeypatch.delenv(admin.TOKEN_ENV)
    for presented in ({}, {admin.TOKEN_HEADER: ""}, {admin.TOKEN_HEADER: "anything"}):
        answer = client.put(admin.SCENARIOS_PATH + "/slow-query", headers=presented)
        assert answer.status_code == 403
        assert answer.get_json()["error"]["code"] == "admin_disabled"
    assert faults.active("slow-query") is None


def test_the_token_may_come_from_a_secret_file(client, monkeypatch, tmp_path):
    monkeypatch.delenv(admin.TOKEN_ENV)
    secret = tmp_path / "admin_token"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv(admin.TOKEN_FILE_ENV, str(secret))
    ok = client.get(admin.SCENARIOS_PATH, headers={admin.TOKEN_HEADER: "from-a-file"})
    assert ok.status_code == 200
    assert client.get(admin.SCENARIOS_PATH, headers={admin.TOKEN_HEADER: TOKEN}).status_code == 403


def test_the_public_edge_serves_no_admin_api(spans):
    edge = create_flask_app(__name__, ServiceSettings(name="frontend", port=1), edge=True)
    answer = edge.test_client().get(admin.SCENARIOS_PATH, headers={admin.TOKEN_HEADER: TOKEN})
    assert answer.status_code == 404


def test_flask_admin_api_rejects_bad_bodies_and_names(client):
    headers = {admin.TOKEN_HEADER: TOKEN}
    url = admin.SCENARIOS_PATH + "/flaky-auth"
    bad_json = client.put(url, data="{", headers=headers, content_type="application/json")
    assert bad_json.status_code == 400
    assert client.put(url, json={"params": {"x": 1}}, headers=headers).status_code == 422
    unknown = client.get(admin.SCENARIOS_PATH + "/nope", headers=headers)
    assert unknown.status_code == 404
    error = unknown.get_json()["error"]
    assert error["code"] == "unknown_scenario"
    assert error["message"].startswith("unknown scenario 'nope'; known: slow-query, ")
    assert client.put(admin.SCENARIOS_PATH + "/nope", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("scenario", "overrides", "message"),
    [
        ("blocking-loop", {"block_ms": 1e9}, "between 0 and 2000"),
        ("blocking-loop", {"block_ms": -1}, "between 0 and 2000"),
        ("blocking-loop", {"block_ms": 1.5}, "whole number"),
        ("blocking-loop", {"block_ms": float("nan")}, "must be a number"),
        ("slow-query", {"scan_ms": float("inf")}, "must be a number"),
        ("flaky-auth", {"rate": 1.5}, "between 0.0 and 1.0"),
        ("retry-storm", {"attempts": 0}, "between 1 and 10"),
        ("pool-starvation", {"pool_size": True}, "must be a number"),
    ],
)
def test_parameters_out_of_bounds_are_refused(scenario, overrides, message):
    with pytest.raises(ValueError, match=message):
        faults.Registry().enable(scenario, overrides)


def test_every_parameter_has_bounds_around_its_default():
    for scenario in faults.SCENARIOS.values():
        for key, param in scenario.parameters.items():
            assert param.minimum <= param.default <= param.maximum, (scenario.name, key)
            assert type(param.minimum) is type(param.default), (scenario.name, key)


def test_the_bounds_are_the_documented_ones():
    """docs/architecture.md lists every parameter with its default and bounds."""
    text = (Path(__file__).resolve().parents[3] / "docs" / "architecture.md").read_text()
    section = text.split("### Scenario parameters", 1)[1].split("\n#", 1)[0]
    documented = set(
        re.findall(
            r"^\| `([\w-]+)` \| `(\w+)` \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", section, re.M
        )
    )
    expected = {
        (s.name, key, str(p.default), str(p.minimum), str(p.maximum))
        for s in faults.SCENARIOS.values()
        for key, p in s.parameters.items()
    }
    assert documented == expected


def test_the_admin_api_refuses_an_unbounded_parameter_with_422(client):
    headers = {admin.TOKEN_HEADER: TOKEN}
    url = admin.SCENARIOS_PATH + "/blocking-loop"
    answer = client.put(url, json={"params": {"block_ms": 1e9}}, headers=headers)
    assert answer.status_code == 422
    assert "between 0 and 2000" in answer.get_json()["error"]["message"]
    assert faults.active("blocking-loop") is None
    # JSON's NaN literal parses in Python: it must not slip through either.
    nan = client.put(
        url, data='{"params": {"block_ms": NaN}}', headers=headers, content_type="application/json"
    )
    assert nan.status_code == 422
    limits = client.get(url, headers=headers).get_json()["limits"]
    assert limits == {"block_ms": {"min": 0, "max": 2000}}


def _enable_in_child(registry: faults.Registry, done: Connection) -> None:
    registry.enable("slow-query", {"scan_ms": 7})
    done.send(registry.snapshot())


def _report_from_child(registry: faults.Registry, done: Connection) -> None:
    done.send(registry.snapshot())


def test_a_shared_registry_reaches_every_forked_process():
    """What gunicorn's workers see: a switch in one process is on in all of them."""
    registry = faults.Registry()
    registry.share_between_processes()
    fork = multiprocessing.get_context("fork")
    ours, theirs = fork.Pipe()
    child = fork.Process(target=_enable_in_child, args=(registry, theirs))
    child.start()
    assert ours.poll(10)
    assert ours.recv() == {"slow-query": {"scan_ms": 7, "share": 1.0}}
    child.join(10)
    assert registry.params("slow-query") == {"scan_ms": 7, "share": 1.0}  # seen here too

    registry.disable("slow-query")
    registry.enable("flaky-auth", {"rate": 0.25})
    child = fork.Process(target=_report_from_child, args=(registry, theirs))
    child.start()
    assert ours.poll(10)
    assert ours.recv() == {"flaky-auth": {"rate": 0.25}}
    child.join(10)


def test_an_unshared_registry_stays_in_its_process():
    registry = faults.Registry()
    fork = multiprocessing.get_context("fork")
    ours, theirs = fork.Pipe()
    child = fork.Process(target=_enable_in_child, args=(registry, theirs))
    child.start()
    assert ours.poll(10)
    ours.recv()
    child.join(10)
    assert registry.params("slow-query") is None
