"""doctor against any OTLP endpoint (``--endpoint --service``), with real collectors and Jaeger.

Clock skew: the lab runs on one host, so no two services' clocks disagree.
Real skew is a callee whose host clock is off; here the spans of such a
pair are posted as OTLP/JSON to the real collector, the callee's times
shifted by 300 ms, exactly as a skewed host would stamp them. They travel
the real path (collector -> Jaeger) and doctor reads them back.

Collector losses: a second real collector whose backend does not exist
and whose retries give up after 5 s, so the spans it accepts fail to send.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.doctor.conftest import ROOT, by_name, run_doctor
from tracelab.bench import promtext
from tracelab.stack.paths import tools_bin
from tracelab.stack.ports import find_free_ports

pytestmark = pytest.mark.integration

SKEW_MS = 300


def _span(trace_id, span_id, parent, name, kind, start_ns, end_ns):
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent or "",
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(end_ns),
    }


def _resource(service, spans):
    return {
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": spans}],
    }


def post_call(otlp_http: str, caller: str, callee: str, callee_offset_ms: float) -> str:
    """One trace: caller's server span, its client span, the callee's server span (shifted)."""
    trace_id = secrets.token_hex(16)
    root, client, server = (secrets.token_hex(8) for _ in range(3))
    t0 = time.time_ns() - 200_000_000
    ms = 1_000_000
    shift = int(callee_offset_ms * ms)
    body = {
        "resourceSpans": [
            _resource(
                caller,
                [
                    _span(trace_id, root, None, "GET /api/thing", 2, t0, t0 + 100 * ms),
                    _span(trace_id, client, root, "GET", 3, t0 + 10 * ms, t0 + 90 * ms),
                ],
            ),
            _resource(
                callee,
                [
                    _span(
                        trace_id,
                        server,
                        client,
                        "GET /thing",
                        2,
                        t0 + 20 * ms + shift,
                        t0 + 80 * ms + shift,
                    )
                ],
            ),
        ]
    }
    request = urllib.request.Request(
        f"{otlp_http}/v1/traces",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    return trace_id


def test_skewed_clocks_are_found_per_service_pair_and_even_ones_pass(doctor_stack):
    info = doctor_stack.info
    since = time.time()
    ids = [
        post_call(info.otlp_http_endpoint, "skew-caller", "skew-callee", -SKEW_MS) for _ in range(3)
    ]
    ids += [post_call(info.otlp_http_endpoint, "even-caller", "even-callee", 0) for _ in range(3)]
    doctor_stack.wait_for(ids, min_spans=3)

    def doctor(*services):
        args = ["--endpoint", info.otlp_http_endpoint, "--query-url", info.jaeger_query_url]
        for service in services:
            args += ["--service", service]
        # These services are the test's own: a wide window keeps its spans in it
        # however slowly doctor starts on a loaded machine.
        return doctor_stack.doctor(since, *args, margin_s=120)

    code, checks = doctor("skew-caller", "skew-callee")
    skew = checks["clock skew"]
    assert skew["status"] == "FAIL", skew
    assert "skew-caller -> skew-callee" in skew["summary"]
    pair = skew["data"]["skew-caller -> skew-callee"]
    assert pair["outside"] == pair["spans"] == 3
    assert SKEW_MS - 20 <= pair["early_ms"] <= SKEW_MS
    assert checks["propagation"]["status"] == "PASS"  # skewed, but whole
    assert code == 1

    code, checks = doctor("even-caller", "even-callee")
    assert checks["clock skew"]["status"] == "PASS", checks["clock skew"]
    assert checks["collector endpoint"]["status"] == "PASS"


@pytest.fixture
def failing_collector() -> Iterator[dict[str, int]]:
    """A real collector whose backend is a closed port and whose retries stop after 5 s."""
    names = ("grpc", "http", "spanmetrics", "health", "metrics", "dead_backend")
    ports = dict(zip(names, find_free_ports(len(names)), strict=True))
    queue = Path(tempfile.mkdtemp(prefix="tracelab-doctor-queue-"))
    env = {
        **os.environ,
        "OTELCOL_OTLP_GRPC_PORT": str(ports["grpc"]),
        "OTELCOL_OTLP_HTTP_PORT": str(ports["http"]),
        "OTELCOL_SPANMETRICS_PORT": str(ports["spanmetrics"]),
        "OTELCOL_HEALTH_PORT": str(ports["health"]),
        "OTELCOL_METRICS_PORT": str(ports["metrics"]),
        "OTELCOL_QUEUE_DIR": str(queue),
        "OTELCOL_RETRY_HORIZON": "5s",
        "JAEGER_OTLP_ENDPOINT": f"127.0.0.1:{ports['dead_backend']}",
    }
    log = (queue / "otelcol.log").open("wb")
    process = subprocess.Popen(
        [
            str(tools_bin(ROOT) / "otelcol"),
            "--config",
            str(ROOT / "infra/otel-collector/config.yaml"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while promtext.scrape(f"http://127.0.0.1:{ports['metrics']}/metrics") is None:
            assert process.poll() is None, (queue / "otelcol.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the collector did not start"
            time.sleep(0.2)
        yield ports
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_spans_the_collector_fails_to_send_are_counted(failing_collector):
    ports = failing_collector
    metrics = f"http://127.0.0.1:{ports['metrics']}/metrics"
    otlp = f"http://127.0.0.1:{ports['http']}"
    args = ["--endpoint", otlp, "--service", "lonely", "--collector-metrics", metrics]
    code, report = run_doctor(*args)
    assert by_name(report)["collector refused/failed spans"]["status"] == "PASS"
    for _ in range(3):
        post_call(otlp, "lonely", "lonely-callee", 0)
    deadline = time.monotonic() + 30
    while (promtext.scrape(metrics) or promtext.SpanCounters()).send_failed < 9:
        assert time.monotonic() < deadline, "the collector never gave up on a batch"
        time.sleep(0.5)
    code, report = run_doctor(*args)
    collector = by_name(report)["collector refused/failed spans"]
    assert collector["status"] == "FAIL", collector
    assert collector["data"]["send failed"] == 9
    assert any("send failed: 9 at otlp_grpc/jaeger" in line for line in collector["evidence"])
    assert "backend is down" in collector["fix"]
    assert code == 1
