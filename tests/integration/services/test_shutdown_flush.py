"""Spans still in a service's batch queue reach the collector when it is stopped (SIGTERM).

The batch processor would only export after a minute here: a span that
arrives at all was flushed by the shutdown, under gunicorn (each worker) and
under aiohttp's runner alike.
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


@pytest.mark.parametrize(("service", "path", "span_name"), CASES, ids=[c[0] for c in CASES])
def test_sigterm_flushes_the_spans_of_the_last_requests(
    serve, otlp_receiver: OtlpReceiver, service, path, span_name
):
    running = serve(
        service,
        {
            "OTEL_SDK_DISABLED": "false",
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "60000",
            "DB_SERVICE_URL": "http://127.0.0.1:1",
            "GATEWAY_URL": "http://127.0.0.1:1",
        },
    )
    assert requests.get(running.url + path, timeout=5).status_code == 400
    assert otlp_receiver.of(service) == [], "exported before the stop: the test proves nothing"

    assert running.terminate() == 0
    names = [span.name for span in otlp_receiver.of(service)]
    assert names == [span_name], running.log.read_text()[-2000:]
