import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner

from services.db.seed import seed_password, seed_user
from tracelab.bench import configs, workload
from tracelab.bench.cli import bench, parse_env_options

ROOT = Path(__file__).resolve().parents[2]


def test_journey_mix_follows_the_design():
    weights = workload.JOURNEY_WEIGHTS
    assert sum(weights.values()) == 100
    assert max(weights, key=weights.get) == "profile"
    assert weights["login"] < weights["dashboard"] < weights["profile"]
    assert {j.name: j.expected_status for j in workload.JOURNEYS} == {
        "profile": 200,
        "dashboard": 200,
        "login": 200,
        "bad_token": 401,
        "not_found": 404,
    }


@pytest.mark.parametrize("index", range(len(workload.JOURNEYS)))
def test_every_request_carries_the_synthetic_baggage(index):
    account = workload.Account(7, "tok")
    request = workload.build_request(index, account)
    assert request.headers["baggage"] == "synthetic_request=true"
    name = workload.JOURNEYS[index].name
    if name == "login":
        assert request.method == "POST" and request.path == "/api/login"
        assert request.body == {"email": seed_user(7).email, "password": seed_password(7)}
        assert "Authorization" not in request.headers
    elif name == "bad_token":
        assert request.headers["Authorization"] == f"Bearer {workload.BAD_TOKEN}"
    else:
        assert request.headers["Authorization"] == "Bearer tok"
    if name == "not_found":
        assert request.path == f"/api/users/{workload.NOT_FOUND_USER_ID}"
    if name == "profile":
        assert request.path == "/api/users/7"


def test_arrival_schedule_is_seeded_and_has_the_right_rate():
    first = workload.arrival_offsets(100.0, 30.0, seed=3)
    assert first == workload.arrival_offsets(100.0, 30.0, seed=3)
    assert first != workload.arrival_offsets(100.0, 30.0, seed=4)
    assert 2700 < len(first) < 3300  # Poisson: 3000 +- 5.5 sigma
    assert all(0 < a < b < 30.0 for a, b in itertools.pairwise(first))
    even = workload.arrival_offsets(10.0, 1.0, seed=0, poisson=False)
    assert even == pytest.approx([i / 10 for i in range(10)])
    with pytest.raises(ValueError):
        workload.arrival_offsets(0.0, 1.0, seed=0)


def test_stepped_schedule_changes_rate_at_each_step():
    offsets = workload.stepped_arrival_offsets(
        10.0, [(2.0, 100.0), (4.0, 10.0)], 6.0, seed=1, poisson=False
    )
    assert offsets == workload.stepped_arrival_offsets(
        10.0, [(2.0, 100.0), (4.0, 10.0)], 6.0, seed=1, poisson=False
    )
    per_segment = [sum(1 for o in offsets if a <= o < b) for a, b in ((0, 2), (2, 4), (4, 6))]
    assert per_segment == [20, 200, 20]
    assert all(a < b for a, b in itertools.pairwise(offsets))
    assert (
        len(workload.stepped_arrival_offsets(50.0, [(0.0, 5.0)], 2.0, seed=0, poisson=False)) == 10
    )
    with pytest.raises(ValueError):
        workload.stepped_arrival_offsets(10.0, [(3.0, 1.0), (2.0, 1.0)], 6.0, seed=0)


def test_account_numbers_stay_within_the_seed():
    assert workload.account_numbers(3) == [1, 2, 3]
    assert workload.account_numbers(2, first=999) == [999, 1000]
    with pytest.raises(ValueError):
        workload.account_numbers(2, first=1000)


def test_select_configs_always_includes_the_baseline_in_standard_order():
    assert [c.name for c in configs.select_configs(None)] == list(configs.CONFIG_NAMES)
    picked = configs.select_configs(["ratio-100pct", "unsampled"])
    assert [c.name for c in picked] == ["off", "unsampled", "ratio-100pct"]
    with pytest.raises(ValueError, match="bogus"):
        configs.select_configs(["bogus"])


def test_configurations_set_the_standard_otel_variables():
    by_name = {c.name: c.env for c in configs.STANDARD_CONFIGS}
    assert by_name["off"] == {"OTEL_SDK_DISABLED": "true"}
    assert by_name["unsampled"]["OTEL_TRACES_SAMPLER"] == "parentbased_always_off"
    for name, ratio in (("ratio-1pct", 0.01), ("ratio-10pct", 0.1), ("ratio-100pct", 1.0)):
        assert by_name[name]["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
        assert float(by_name[name]["OTEL_TRACES_SAMPLER_ARG"]) == ratio


def test_load_profile_environment_trusts_caller_context():
    env = configs.load_stack_env(ROOT)
    assert env == {"FRONTEND_TRUST_TRACEPARENT": "true"}
    merged = configs.service_env(configs.STANDARD_CONFIGS[0], env)
    assert merged == {"FRONTEND_TRUST_TRACEPARENT": "true", "OTEL_SDK_DISABLED": "true"}
    assert configs.load_stack_env(ROOT, Path("no/such.env")) == {}


def test_parse_env_file():
    text = "# comment\n\nA=1\nexport B='two'\nC=\"x=y\"\n"
    assert configs.parse_env_file(text) == {"A": "1", "B": "two", "C": "x=y"}
    with pytest.raises(ValueError, match="line 1"):
        configs.parse_env_file("not a pair\n")


def test_cli_env_options_and_help():
    assert parse_env_options(("A=1", "B=x=y")) == {"A": "1", "B": "x=y"}
    result = CliRunner().invoke(bench, ["--help"])
    assert result.exit_code == 0
    assert "--quick" in result.output and "--rate" in result.output
    bad = CliRunner().invoke(bench, ["--env", "NOEQUALS", "--rate", "1"])
    assert bad.exit_code == 2
    assert "KEY=VALUE" in bad.output


def test_variants_and_port_placeholders():
    variant = configs.parse_variant(
        "grpc:OTEL_EXPORTER_OTLP_PROTOCOL=grpc,"
        "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:{OTELCOL_OTLP_GRPC_PORT}"
    )
    assert variant.name == "grpc"
    assert variant.env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    filled = configs.fill_ports(variant.env, {"OTELCOL_OTLP_GRPC_PORT": "43170"})
    assert filled["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:43170"
    for bad in ("no-colon", "off:A=1", "x:NOEQUALS"):
        with pytest.raises(ValueError):
            configs.parse_variant(bad)
    result = CliRunner().invoke(bench, ["--variant", "off:A=1", "--rate", "1"])
    assert result.exit_code == 2 and "--variant" in result.output
