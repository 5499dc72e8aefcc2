"""A real service process exports its log lines over OTLP, each with the ids of its span.

gunicorn (each worker sets up its own log export after the fork) and aiohttp
alike: the access line of a request reaches the OTLP receiver with the
trace id of that request's server span and the span id of a span of that
trace; with OTEL_LOGS_EXPORTER=none nothing but spans leaves the process.
"""

from __future__ import annotations

import pytest
import requests

from tests.integration.services.conftest import OtlpReceiver

pytestmark = pytest.mark.integration

CASES = [
    ("frontend", "/api/users/abc", "GET /api/users/<user_id>"),  # gunicorn
    ("user", "/users/abc", "GET /users/{id}"),  # aiohttp
]


def env(receiver: OtlpReceiver, **extra: str) -> dict[str, str]:
    return {
        "OTEL_SDK_DISABLED": "false",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_BLRP_SCHEDULE_DELAY": "100",
        "DB_SERVICE_URL": "http://127.0.0.1:1",
        "GATEWAY_URL": "http://127.0.0.1:1",
        **extra,
    }


@pytest.mark.parametrize(("service", "path", "span_name"), CASES, ids=[c[0] for c in CASES])
def test_the_access_line_arrives_with_the_requests_trace_id(
    serve, otlp_receiver: OtlpReceiver, service, path, span_name
):
    running = serve(service, env(otlp_receiver))
    assert requests.get(running.url + path, timeout=5).status_code == 400

    def access_line():
        return [r for r in otlp_receiver.logs_of(service) if r.body == f"GET {path} -> 400"]

    assert otlp_receiver.wait_for(lambda: access_line() and otlp_receiver.of(service))
    (record,) = access_line()
    server = [span for span in otlp_receiver.of(service) if span.name == span_name]
    assert server, running.log.read_text()[-2000:]
    assert record.trace_id == server[0].trace_id and len(record.span_id) == 16
    assert record.severity == "INFO"
    # The JSON line on stderr stays, with the same trace id.
    assert record.trace_id in running.log.read_text()


def test_no_log_is_exported_with_otel_logs_exporter_none(serve, otlp_receiver: OtlpReceiver):
    running = serve("user", env(otlp_receiver, OTEL_LOGS_EXPORTER="none"))
    assert requests.get(running.url + "/users/abc", timeout=5).status_code == 400
    assert otlp_receiver.wait_for(lambda: otlp_receiver.of("user"))
    assert running.terminate() == 0  # flushes whatever is queued
    assert otlp_receiver.logs_of("user") == []


@pytest.mark.parametrize(("service", "path", "span_name"), CASES, ids=[c[0] for c in CASES])
def test_sigterm_flushes_the_queued_log_lines(
    serve, otlp_receiver: OtlpReceiver, service, path, span_name
):
    """Like the spans (test_shutdown_flush): the batch would wait a minute, the stop sends it."""
    running = serve(service, env(otlp_receiver, OTEL_BLRP_SCHEDULE_DELAY="60000"))
    assert requests.get(running.url + path, timeout=5).status_code == 400
    assert otlp_receiver.wait_for(lambda: otlp_receiver.of(service))
    assert otlp_receiver.logs_of(service) == [], "exported before the stop: the test proves nothing"
    assert running.terminate() == 0
    bodies = [record.body for record in otlp_receiver.logs_of(service)]
    assert f"GET {path} -> 400" in bodies, running.log.read_text()[-2000:]
