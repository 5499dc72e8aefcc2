"""Where doctor looks: endpoints from the environment, the local stack, given setups."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tracelab.cli import cli
from tracelab.doctor import model
from tracelab.doctor.target import DoctorError, Endpoint, endpoint_from_env, given, local_stack


def test_the_endpoint_follows_the_sdk_variables_and_defaults():
    assert endpoint_from_env({}) == Endpoint("http/protobuf", "http://localhost:4318")
    assert endpoint_from_env({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}).port == 4317
    # The exporter's name says its protocol, as the SDK reads it.
    assert endpoint_from_env({"OTEL_TRACES_EXPORTER": "otlp_proto_grpc"}).port == 4317
    grpc_named_http = {
        "OTEL_TRACES_EXPORTER": "otlp_proto_http",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }
    assert endpoint_from_env(grpc_named_http).port == 4318
    traces_only = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:2/v1/traces",
    }
    endpoint = endpoint_from_env(traces_only)
    assert (endpoint.host, endpoint.port) == ("b", 2)
    assert endpoint.http_traces_url == "http://b:2/v1/traces"
    assert Endpoint("grpc", "collector:4317").host == "collector"
    assert Endpoint("http/protobuf", "http://c:4318").http_traces_url == "http://c:4318/v1/traces"


def test_no_local_stack_is_a_clear_error(tmp_path):
    with pytest.raises(DoctorError, match="no local stack found"):
        local_stack({"TRACELAB_RUN_DIR": str(tmp_path)})


def test_a_given_setup_checks_its_options():
    with pytest.raises(DoctorError, match="carrier-pigeon"):
        given("http://c:4318", "carrier-pigeon", ["svc"])
    with pytest.raises(DoctorError, match="--log"):
        given("http://c:4318", "grpc", ["svc"], logs={"other": "x.log"})
    target = given("http://c:4317", "grpc", ["svc"])
    assert target.sibling_port(4317) == 4318
    assert list(target.endpoints().values()) == [["svc"]]


def test_the_command_without_a_stack_exits_2(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACELAB_RUN_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 2
    assert "no local stack found" in result.output


def test_exit_code_and_text_follow_the_worst_check():
    passed = model.CheckResult("a", model.PASS, "fine")
    warned = model.CheckResult("b", model.WARN, "hm", ("evidence",), "do this")
    failed = model.CheckResult("c", model.FAIL, "bad", fix="fix that")
    assert model.exit_code([passed, warned]) == 0
    assert model.exit_code([passed, failed]) == 1
    text = model.render_text([passed, warned, failed], "here")
    assert "[WARN] b: hm" in text and "fix: do this" in text and "fix: fix that" in text
    assert "1 pass 1 warn 1 fail" in text
    with pytest.raises(ValueError):
        model.CheckResult("d", "MAYBE", "?")
