"""Each doctor check on fixtures: probes, recorded metrics pages and log lines, built traces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.shapes.builders import build, flat_span, http_client, http_server, node
from tracelab.bench import promtext
from tracelab.doctor import checks
from tracelab.doctor.model import FAIL, PASS, SKIP, WARN
from tracelab.doctor.probe import Probe
from tracelab.doctor.target import Endpoint, ServiceConfig
from tracelab.shapes.model import Trace

PAGES = Path(__file__).parent / "pages"


def page(name: str) -> list[promtext.Sample]:
    return promtext.parse((PAGES / name).read_text())


# -- collector endpoint -----------------------------------------------------------------


def _probes(protocol: str, port: int, answering: set[tuple[str, int]]) -> checks.EndpointProbes:
    """The four probes gather makes at 4317/4318; ``answering`` says which answer."""
    other = checks.other_protocol(protocol)
    sibling = 4318 if port == 4317 else 4317
    tried = [(protocol, port), (other, port), ("grpc", sibling), ("http/protobuf", sibling)]
    return checks.EndpointProbes(
        Endpoint(protocol, f"http://127.0.0.1:{port}"),
        ["frontend"],
        [Probe(p, "127.0.0.1", n, (p, n) in answering, "probed") for p, n in tried],
    )


HEALTHY = {("grpc", 4317), ("http/protobuf", 4318)}


def test_an_endpoint_answering_its_protocol_passes():
    result = checks.check_endpoints([_probes("http/protobuf", 4318, HEALTHY)])
    assert result.status == PASS
    assert "frontend: http/protobuf -> http://127.0.0.1:4318" in result.evidence


def test_http_protobuf_at_the_grpc_port_says_which_protocol_answers_where():
    result = checks.check_endpoints([_probes("http/protobuf", 4317, HEALTHY)])
    assert result.status == FAIL
    assert "port 4317 speaks grpc" in result.summary
    assert "OTEL_EXPORTER_OTLP_PROTOCOL=grpc" in result.fix
    assert "port 4318 where http/protobuf answers" in result.fix


def test_grpc_at_the_http_port_says_which_protocol_answers_where():
    result = checks.check_endpoints([_probes("grpc", 4318, HEALTHY)])
    assert result.status == FAIL
    assert "port 4318 speaks http/protobuf" in result.summary
    assert "port 4317 where grpc answers" in result.fix


def test_nothing_listening_says_start_the_collector():
    entry = _probes("grpc", 4317, set())
    refused = [Probe(p.protocol, p.host, p.port, False, "connection refused") for p in entry.probes]
    entry = checks.EndpointProbes(entry.endpoint, entry.services, refused)
    result = checks.check_endpoints([entry])
    assert result.status == FAIL
    assert "nothing listens at 127.0.0.1:4317" in result.summary
    assert "start the collector" in result.fix


def test_no_known_endpoint_skips():
    assert checks.check_endpoints([]).status == SKIP


# -- spans lost in the services -----------------------------------------------------------


def test_dropped_spans_in_a_recorded_metrics_page_fail_the_service():
    samples = page("service-metrics-dropping.txt")
    result = checks.check_service_loss(["frontend", "gateway"], samples, {})
    assert result.status == FAIL
    frontend = result.data["frontend"]["metrics"]
    assert frontend["dropped_queue_full"] > 0
    assert "frontend" in result.summary
    assert "OTEL_BSP_MAX_QUEUE_SIZE" in result.fix


def test_a_healthy_recorded_metrics_page_passes():
    samples = page("service-metrics-healthy.txt")
    result = checks.check_service_loss(["frontend", "gateway"], samples, {})
    assert result.status == PASS, result
    assert result.data["frontend"]["metrics"]["exported_spans"] > 0


def test_exporter_lines_in_a_recorded_log_are_counted():
    entries = [
        json.loads(line) for line in (PAGES / "frontend-dropping.log").read_text().splitlines()
    ]
    trouble = checks.exporter_trouble(entries)
    assert trouble.loss_lines >= 1
    assert trouble.lines >= trouble.loss_lines
    result = checks.check_service_loss(["frontend"], None, {"frontend": trouble})
    assert result.status == FAIL
    assert any("spans lost in the last" in line for line in result.evidence)


def test_export_retries_alone_warn_and_a_failed_export_fails():
    def line(level, message):
        return {"level": level, "logger": "opentelemetry.exporter.otlp", "message": message}

    retry = line(
        "WARNING", "Transient error 503 encountered while exporting span batch, retrying in 1.2s."
    )
    retrying = checks.exporter_trouble([retry])
    assert (retrying.lines, retrying.loss_lines) == (1, 0)
    assert checks.check_service_loss(["svc"], None, {"svc": retrying}).status == WARN
    failed = checks.exporter_trouble(
        [retry, line("ERROR", "Failed to export span batch code: 404")]
    )
    assert failed.loss_lines == 1
    assert checks.check_service_loss(["svc"], None, {"svc": failed}).status == FAIL


def test_access_and_app_lines_are_no_exporter_trouble():
    entries = [
        {"level": "INFO", "logger": "opentelemetry.sdk", "message": "fine"},
        {"level": "WARNING", "logger": "services.gateway", "message": "slow downstream"},
    ]
    assert checks.exporter_trouble(entries).lines == 0


def test_no_metrics_and_no_logs_skips():
    assert checks.check_service_loss(["frontend"], None, {"frontend": None}).status == SKIP


# -- the collector's counters ---------------------------------------------------------------


def test_send_failures_in_a_recorded_collector_page_fail_with_the_exporter_named():
    result = checks.check_collector(page("collector-send-failed.txt"))
    assert result.status == FAIL
    assert result.data["send failed"] > 0
    assert any("at otlp_grpc/jaeger" in line for line in result.evidence)
    assert "backend is down" in result.fix


def test_a_healthy_recorded_collector_page_passes():
    result = checks.check_collector(page("collector-healthy.txt"))
    assert result.status == PASS, result
    assert result.data["accepted"] > 0


def test_refused_spans_point_at_the_memory_limiter():
    samples = [("otelcol_receiver_refused_spans_total", {"receiver": "otlp"}, 7.0)]
    result = checks.check_collector(samples)
    assert result.status == FAIL
    assert "memory_limiter" in result.fix


def test_an_unreadable_collector_page_skips():
    assert checks.check_collector(None).status == SKIP


# -- sampling ---------------------------------------------------------------------------------


def _service(name="frontend", **env) -> ServiceConfig:
    return ServiceConfig(name, env)


def test_the_default_sampler_keeps_everything():
    result = checks.check_sampling([_service()], [])
    assert result.status == PASS
    assert result.data["frontend"]["probability"] == 1.0


def test_a_one_percent_sampler_warns_with_its_share():
    service = _service(
        OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG="0.01"
    )
    result = checks.check_sampling([service], [])
    assert result.status == WARN
    assert "frontend 1%" in result.summary
    assert "keeps 1% of the traces it starts" in " ".join(result.evidence)


def test_a_sampler_that_keeps_nothing_fails():
    result = checks.check_sampling([_service(OTEL_TRACES_SAMPLER="always_off")], [])
    assert result.status == FAIL


def test_without_an_environment_the_spans_resource_says_the_share():
    span = flat_span(
        1, None, "edge", "GET /", "server", 0, 1, resource={"tracelab.sampling.probability": 0.05}
    )
    result = checks.check_sampling([ServiceConfig("edge")], [Trace([span])])
    assert result.status == WARN
    assert result.data["edge"]["probability"] == 0.05


def test_no_sampler_known_skips():
    assert checks.check_sampling([ServiceConfig("edge")], []).status == SKIP


# -- span processor --------------------------------------------------------------------------


def test_a_simple_processor_fails():
    result = checks.check_processor([_service(TRACELAB_SPAN_PROCESSOR="simple")], [])
    assert result.status == FAIL
    assert "TRACELAB_SPAN_PROCESSOR" in result.fix


def test_the_batch_processor_passes_and_shows_its_settings():
    result = checks.check_processor([_service()], [])
    assert result.status == PASS
    assert "OTEL_BSP_MAX_QUEUE_SIZE=16384" in result.evidence[0]


def test_a_tiny_batch_queue_warns():
    result = checks.check_processor([_service(OTEL_BSP_MAX_QUEUE_SIZE="1")], [])
    assert result.status == WARN
    assert "queue 1" in result.summary


def test_without_an_environment_the_spans_resource_names_the_processor():
    span = flat_span(
        1, None, "edge", "GET /", "server", 0, 1, resource={"tracelab.span_processor": "simple"}
    )
    result = checks.check_processor([ServiceConfig("edge")], [Trace([span])])
    assert result.status == FAIL


# -- propagation ------------------------------------------------------------------------------


def _dashboard(trace_id: str):
    return build(
        http_server(
            "gateway",
            "GET",
            "/api/dashboard",
            end=50,
            children=[
                http_client(
                    "gateway",
                    "GET",
                    "http://user/users/1",
                    start=5,
                    end=45,
                    children=[http_server("user", "GET", "/users/{id}", start=6, end=44)],
                )
            ],
        ),
        trace_id=trace_id,
    )


def test_whole_traces_pass():
    result = checks.check_propagation([_dashboard("1" * 32), _dashboard("2" * 32)])
    assert result.status == PASS
    assert result.data["broken"] == 0


def test_a_trace_that_starts_with_a_client_span_names_its_hop():
    piece = build(
        http_client(
            "user",
            "GET",
            "http://db/activity",
            end=20,
            children=[http_server("db", "GET", "/activity", start=1, end=19)],
        ),
        trace_id="3" * 32,
    )
    result = checks.check_propagation([_dashboard("1" * 32), piece])
    assert result.status == FAIL
    assert result.data["hops"] == {"user -> db": 1}
    assert "user -> db" in result.summary
    assert "3" * 32 in " ".join(result.evidence)


def test_a_span_whose_parent_is_missing_names_its_service():
    orphan = build(http_server("db", "GET", "/x", end=5), trace_id="4" * 32, parent="f" * 16)
    result = checks.check_propagation([orphan])
    assert result.status == FAIL
    assert result.data["hops"] == {"? -> db": 1}


def test_a_leaf_server_continued_elsewhere_names_the_call_it_lost():
    # The lost-context scenario: user answers without calling db in the trace,
    # and db's call shows up as a trace of its own, started by user, during it.
    whole = build(http_server("user", "GET", "/users/{id}/activity", end=40), trace_id="5" * 32)
    piece = build(
        http_client(
            "user",
            "GET",
            "http://db/activity",
            start=10,
            end=30,
            children=[http_server("db", "GET", "/activity", start=11, end=29)],
        ),
        trace_id="6" * 32,
    )
    result = checks.check_propagation([whole], lambda service, start, end: [whole, piece])
    assert result.status == FAIL
    assert result.data["hops"] == {"user -> db": 1}


def test_no_traces_skips():
    assert checks.check_propagation([]).status == SKIP
    assert checks.check_propagation(None).status == SKIP


# -- clock skew -------------------------------------------------------------------------------


def _call(callee_start: float, callee_end: float, client_status: str = "unset") -> Trace:
    return build(
        node(
            "gateway",
            "GET /api/x",
            "server",
            0,
            100,
            children=[
                node(
                    "gateway",
                    "GET",
                    "client",
                    10,
                    90,
                    status=client_status,
                    children=[node("auth", "POST /verify", "server", callee_start, callee_end)],
                )
            ],
        )
    )


def test_children_inside_their_parents_pass():
    result = checks.check_clock_skew([_call(11, 89)])
    assert result.status == PASS
    assert result.data["gateway -> auth"]["spans"] == 1


def test_a_child_starting_before_its_parent_is_skew_on_that_pair():
    result = checks.check_clock_skew([_call(-290, -230)], tolerance_ms=20)
    assert result.status == FAIL
    assert "gateway -> auth" in result.summary
    assert result.data["gateway -> auth"]["early_ms"] == pytest.approx(300)


def test_a_child_ending_after_its_parent_is_skew_too():
    result = checks.check_clock_skew([_call(60, 150)], tolerance_ms=20)
    assert result.status == FAIL
    assert result.data["gateway -> auth"]["late_ms"] == pytest.approx(60)


def test_within_the_tolerance_is_no_skew():
    assert checks.check_clock_skew([_call(5, 95)], tolerance_ms=20).status == PASS


def test_a_callee_outliving_a_caller_that_gave_up_is_a_timeout_not_skew():
    assert checks.check_clock_skew([_call(20, 300, client_status="error")]).status == PASS


def test_a_child_outliving_its_parent_in_the_same_service_is_not_skew():
    # One process, one clock: a background task may end after the request's span.
    trace = build(
        node(
            "gateway",
            "GET /api/x",
            "server",
            0,
            50,
            children=[
                node("gateway", "audit", "internal", 40, 400),
                node(
                    "gateway",
                    "GET",
                    "client",
                    5,
                    45,
                    children=[node("auth", "POST", "server", 6, 44)],
                ),
            ],
        )
    )
    result = checks.check_clock_skew([trace])
    assert result.status == PASS
    assert "gateway -> gateway" not in result.data
