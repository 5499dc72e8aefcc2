"""Bounded admission in a real gunicorn service: queued requests counted, the rest shed at once.

The frontend runs with 2 threads and room for 2 queued requests, in front of
a gateway that takes a second per answer. Of 10 simultaneous requests, 2 are
served at once, 2 wait for a thread (their wait is on their span, counted in
their budget) and 6 are shed right away with 503, ``Retry-After`` and the
JSON error, their spans saying why.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from services.common.admission import SHED_EVENT, SHED_REASON
from services.common.deadline import QUEUE_WAIT_ATTRIBUTE

pytestmark = pytest.mark.integration

ANSWER_S = 1.0
PROFILE = {"id": 2, "email": "user0002@tracelab.test", "name": "U", "created_at": "2024"}


class _SlowGateway(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        time.sleep(ANSWER_S)
        body = json.dumps(PROFILE).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def slow_gateway() -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowGateway)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _get(url: str, barrier: threading.Barrier) -> tuple[int, dict[str, str], dict, float]:
    """One request on its own connection, all sent at the same moment."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    connection.connect()
    barrier.wait()
    started = time.monotonic()
    connection.request("GET", "/api/users/2", headers={"Authorization": "Bearer t"})
    response = connection.getresponse()
    body = json.loads(response.read())
    elapsed = time.monotonic() - started
    connection.close()
    return response.status, dict(response.getheaders()), body, elapsed


def test_past_threads_and_queue_requests_are_shed_at_once(serve, slow_gateway, otlp_receiver):
    frontend = serve(
        "frontend",
        {
            "GATEWAY_URL": slow_gateway,
            "WEB_THREADS": "2",
            "MAX_QUEUED_REQUESTS": "2",
            "MAX_QUEUE_WAIT_MS": "5000",
            "OTEL_SDK_DISABLED": "false",
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        },
    )
    barrier = threading.Barrier(10)
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: _get(frontend.url, barrier), range(10)))

    served = sorted(r[3] for r in results if r[0] == 200)
    shed = [r for r in results if r[0] == 503]
    assert (len(served), len(shed)) == (4, 6), [r[:1] + r[3:] for r in results]
    # Two at once, two after waiting a whole answer for a thread.
    assert served[1] < ANSWER_S * 1.8 and served[2] > ANSWER_S * 1.8
    for _status, headers, body, elapsed in shed:
        assert elapsed < 0.5, "a shed request was not answered at once"
        assert headers["Retry-After"] == "1"
        assert body["error"]["code"] == "overloaded"
        assert body["error"]["trace_id"]

    assert otlp_receiver.wait_for(lambda: len(otlp_receiver.of("frontend")) >= 10 + 4)
    spans = [s for s in otlp_receiver.of("frontend") if s.name == "GET /api/users/<user_id>"]
    shed_spans = [s for s in spans if SHED_REASON in s.attributes]
    assert len(shed_spans) == 6
    for span in shed_spans:
        assert span.attributes[SHED_REASON] == "queue_full"
        assert span.attributes["http.response.status_code"] == 503
        assert span.attributes["tracelab.shed.in_flight"] == 2
        assert span.attributes["tracelab.shed.queued"] == 2
        assert SHED_EVENT in span.events
    waits = sorted(
        s.attributes[QUEUE_WAIT_ATTRIBUTE] for s in spans if SHED_REASON not in s.attributes
    )
    assert waits[-2] > ANSWER_S * 1000 * 0.8, "the wait for a thread is not on the span"


def test_a_request_queued_longer_than_allowed_is_shed(serve, slow_gateway):
    frontend = serve(
        "frontend",
        {
            "GATEWAY_URL": slow_gateway,
            "WEB_THREADS": "1",
            "MAX_QUEUED_REQUESTS": "4",
            "MAX_QUEUE_WAIT_MS": "300",
        },
    )
    barrier = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        results = sorted(
            pool.map(lambda _: _get(frontend.url, barrier), range(2)), key=lambda r: r[0]
        )
    (ok, _, _, _), (status, headers, body, elapsed) = results
    assert (ok, status, body["error"]["code"], headers["Retry-After"]) == (
        200,
        503,
        "overloaded",
        "1",
    )
    # It waited for the only thread (a whole answer), then was shed, not served.
    assert ANSWER_S * 0.8 < elapsed < ANSWER_S * 1.8
