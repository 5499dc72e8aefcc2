"""services.common.launch: one launch path, programmatic or under opentelemetry-instrument."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from services.common import launch, resource, telemetry
from services.common.config import ConfigError
from tracelab.stack import config as stack_config

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "programmatic"), ("", "programmatic"), ("Zero-Code", "zero-code")],
)
def test_mode_defaults_to_programmatic(value, expected):
    environ = {} if value is None else {launch.MODE_VAR: value}
    assert launch.mode(environ) == expected


def test_a_bad_mode_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"'auto' is not one of programmatic, zero-code"):
        launch.mode({launch.MODE_VAR: "auto"})


def test_programmatic_runs_the_module_with_the_shared_defaults():
    argv, env = launch.command("gateway", {"PATH": "/bin"})
    assert argv == [sys.executable, "-m", "services.gateway"]
    assert env["OTEL_SEMCONV_STABILITY_OPT_IN"] == "http"
    assert "OTEL_SERVICE_NAME" not in env  # telemetry.build_resource names the service


def test_zero_code_runs_under_opentelemetry_instrument_and_the_environment_wins():
    environ = {launch.MODE_VAR: "zero-code", "OTEL_BSP_SCHEDULE_DELAY": "100"}
    argv, env = launch.command("db", environ)
    assert Path(argv[0]).name == "opentelemetry-instrument" and Path(argv[0]).is_file()
    assert argv[1:] == [sys.executable, "-m", "services.db"]
    assert env["OTEL_SERVICE_NAME"] == "db"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"  # not the distro's grpc
    assert env["OTEL_BSP_SCHEDULE_DELAY"] == "100"
    assert env["OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS"].startswith("^/healthz")


@pytest.mark.parametrize(
    ("environ", "traces", "logs"),
    [
        ({}, "tracelab", "tracelab"),
        ({"OTEL_LOGS_EXPORTER": "none"}, "tracelab", "none"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "otlp_proto_grpc", "otlp_proto_grpc"),
        ({"OTEL_TRACES_EXPORTER": "otlp_proto_http"}, "otlp_proto_http", "tracelab"),
    ],
)
def test_zero_code_gets_the_exporters_the_programmatic_setup_resolves(environ, traces, logs):
    _, env = launch.command("user", {launch.MODE_VAR: launch.ZERO_CODE, **environ})
    assert (env["OTEL_TRACES_EXPORTER"], env["OTEL_LOGS_EXPORTER"]) == (traces, logs)


def test_the_stack_runner_launches_services_through_the_launcher():
    row = stack_config.BY_NAME["user"]
    argv, env = row.command.command({launch.MODE_VAR: "zero-code"})
    assert (argv, env) == launch.command("user", {launch.MODE_VAR: "zero-code"})
    console = stack_config.BY_NAME["console"].command
    assert console.command({})[0] == [sys.executable, "-m", "tracelab.console"]


def test_the_container_launcher_refuses_a_bad_mode():
    result = subprocess.run(
        [sys.executable, "-m", "services.common.launch", "gateway"],
        env={launch.MODE_VAR: "nope", "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "TRACELAB_INSTRUMENTATION='nope' is not one of" in result.stderr


def test_zero_code_init_refuses_a_process_not_started_under_the_instrument():
    result = subprocess.run(
        [sys.executable, "-c", "from services.common import telemetry; telemetry.init('gateway')"],
        env={
            launch.MODE_VAR: "zero-code",
            "PATH": "/usr/bin:/bin",
            "OTEL_METRICS_EXPORTER": "none",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "it was not started under opentelemetry-instrument" in result.stderr


def test_the_resource_detector_gives_the_lab_attributes(monkeypatch):
    monkeypatch.setenv("DEPLOYMENT_ENVIRONMENT", "bench")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    attributes = resource.TracelabResourceDetector().detect().attributes
    assert attributes["deployment.environment"] == "bench"
    assert attributes["tracelab.span_processor"] == "batch"
    built = telemetry.build_resource("gateway", attributes["service.version"], "bench").attributes
    assert {k: built[k] for k in attributes} == dict(attributes)


def test_zero_code_counts_the_spans_a_full_queue_drops():
    """Under opentelemetry-instrument the SDK's drop count reaches the loss log line."""
    script = (
        "import time; from opentelemetry import trace\n"
        "tracer = trace.get_tracer('t')\n"
        "for _ in range(50): tracer.start_span('s').end()\n"
        "time.sleep(1.5)\n"
    )
    environ = {
        "PATH": "/usr/bin:/bin",
        launch.MODE_VAR: "zero-code",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "tracelab_span_loss",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_BSP_MAX_QUEUE_SIZE": "2",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2",
        "OTEL_BSP_SCHEDULE_DELAY": "60000",
        "TRACELAB_SPAN_LOSS_LOG_INTERVAL_S": "0.5",
    }
    argv, env = launch.command("gateway", environ)
    result = subprocess.run(
        [argv[0], sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "spans lost in the last 0.5 s:" in result.stderr
    assert "(export queue full" in result.stderr
