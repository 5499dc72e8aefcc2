"""doctor against a real local stack: healthy, then broken one setting at a time.

Each test restarts the services with one deliberately wrong setting, sends
journeys, and asserts that the real ``tracelab doctor`` names it (check,
evidence, fix). The order matters only for the collector's cumulative
counters: the healthy stack is checked first, the dropping exporter last.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_a_healthy_stack_passes_every_check(doctor_stack):
    since = doctor_stack.restart()
    doctor_stack.wait_for(doctor_stack.journeys(("login", "dashboard", "profile")), min_spans=5)
    code, checks = doctor_stack.doctor_until(
        since, lambda c: all(check["status"] == "PASS" for check in c.values())
    )
    assert {name: check["status"] for name, check in checks.items()} == dict.fromkeys(
        checks, "PASS"
    ), checks
    assert code == 0
    assert "every trace is whole" in checks["propagation"]["summary"]
    assert checks["sampling"]["data"]["frontend"]["probability"] == 1.0


@pytest.mark.parametrize(
    ("setting", "answers"),
    [
        # OTLP/HTTP aimed at the gRPC port, and gRPC aimed at the HTTP port.
        ("http-at-grpc-port", "grpc"),
        ("grpc-at-http-port", "http/protobuf"),
    ],
)
def test_a_protocol_and_port_mix_up_is_named(doctor_stack, setting, answers):
    ports = doctor_stack.info.ports
    grpc, http = ports["collector_otlp_grpc"], ports["collector_otlp_http"]
    env = (
        {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{grpc}"}
        if setting == "http-at-grpc-port"
        else {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    )
    since = doctor_stack.restart(env)
    code, checks = doctor_stack.doctor(since)
    endpoint = checks["collector endpoint"]
    assert endpoint["status"] == "FAIL"
    wrong_port = grpc if setting == "http-at-grpc-port" else http
    right_port = http if setting == "http-at-grpc-port" else grpc
    assert f"port {wrong_port} speaks {answers}" in endpoint["summary"]
    assert f"OTEL_EXPORTER_OTLP_PROTOCOL={answers}" in endpoint["fix"]
    assert f"port {right_port} where" in endpoint["fix"]
    assert code == 1


def test_a_simple_span_processor_fails_from_env_and_from_the_spans(doctor_stack):
    since = doctor_stack.restart({"TRACELAB_SPAN_PROCESSOR": "simple"})
    doctor_stack.wait_for(doctor_stack.journeys(("dashboard",), each=2), min_spans=5)
    code, checks = doctor_stack.doctor_until(since, lambda c: True)
    processor = checks["span processor"]
    assert processor["status"] == "FAIL", processor
    assert "simple span processor" in processor["summary"]
    assert code == 1
    # Any OTLP setup: no environment to read, the spans' resource says it.
    info = doctor_stack.info
    code, report = doctor_stack.doctor(
        since,
        "--endpoint",
        info.otlp_http_endpoint,
        "--service",
        "frontend",
        "--query-url",
        info.jaeger_query_url,
    )
    processor = report["span processor"]
    assert processor["status"] == "FAIL", processor
    assert "resource tracelab.span_processor" in " ".join(processor["evidence"])


def test_a_one_percent_sampler_warns_with_the_share_it_keeps(doctor_stack):
    since = doctor_stack.restart(
        {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"}
    )
    code, checks = doctor_stack.doctor(since)
    sampling = checks["sampling"]
    assert sampling["status"] == "WARN", sampling
    assert "frontend 1%" in sampling["summary"]
    assert sampling["data"]["frontend"]["probability"] == 0.01
    assert code == 0  # a warning alone does not fail the run


def test_lost_context_is_found_at_its_hop(doctor_stack):
    since = doctor_stack.restart({"TRACELAB_SCENARIOS": "lost-context"})
    doctor_stack.wait_for(doctor_stack.journeys(("dashboard",), each=3), min_spans=5)
    code, checks = doctor_stack.doctor_until(
        since, lambda c: "user -> db" in c["propagation"]["data"].get("hops", {})
    )
    propagation = checks["propagation"]
    assert propagation["status"] == "FAIL", propagation
    assert "user -> db" in propagation["summary"]
    assert "contextvars" in propagation["fix"]
    assert code == 1


def test_a_dropping_exporter_is_seen_in_metrics_and_logs(doctor_stack):
    since = doctor_stack.restart(
        {"OTEL_BSP_MAX_QUEUE_SIZE": "1", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "1"}
    )
    doctor_stack.journeys(("dashboard",), each=5)

    def seen_both_ways(c):
        data = c["spans lost in the services"]["data"]
        return any(
            (s["metrics"] or {}).get("dropped_queue_full") and s["log_loss_lines"]
            for s in data.values()
        )

    code, checks = doctor_stack.doctor_until(since, seen_both_ways)
    loss = checks["spans lost in the services"]
    assert loss["status"] == "FAIL", loss
    assert seen_both_ways(checks), loss
    assert "OTEL_BSP_MAX_QUEUE_SIZE" in loss["fix"]
    assert checks["span processor"]["status"] == "WARN"  # a queue of 1
    assert code == 1
