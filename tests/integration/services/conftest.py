"""Real service processes (gunicorn or aiohttp, as ``make up`` runs them) and an OTLP receiver.

``serve`` starts ``python -m services.<name>`` on a free port with the given
environment and waits for ``/healthz``; the receiver is a real OTLP/HTTP
endpoint in this process that keeps every span and log record it is sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.service_process import Service, ServiceFailedToStart, running_service


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the receiver decoded it."""

    service: str
    name: str
    kind: int
    attributes: dict[str, Any]
    events: tuple[str, ...]
    trace_id: str = ""


@dataclass(frozen=True)
class ReceivedLog:
    """One log record as the receiver decoded it (ids in hex, empty when none)."""

    service: str
    body: str
    severity: str
    trace_id: str
    span_id: str


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


@dataclass
class OtlpReceiver:
    """The spans received so far, and where to send them."""

    url: str = ""
    spans: list[ReceivedSpan] = field(default_factory=list)
    logs: list[ReceivedLog] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received = ReceivedSpan(
                        service=resource.get("service.name", ""),
                        name=span.name,
                        kind=span.kind,
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        events=tuple(event.name for event in span.events),
                        trace_id=span.trace_id.hex(),
                    )
                    with self.lock:
                        self.spans.append(received)

    def add_logs(self, body: bytes) -> None:
        request = ExportLogsServiceRequest()
        request.ParseFromString(body)
        for resource_logs in request.resource_logs:
            resource = {a.key: _value(a.value) for a in resource_logs.resource.attributes}
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    received = ReceivedLog(
                        service=resource.get("service.name", ""),
                        body=str(_value(record.body)),
                        severity=record.severity_text,
                        trace_id=record.trace_id.hex(),
                        span_id=record.span_id.hex(),
                    )
                    with self.lock:
                        self.logs.append(received)

    def logs_of(self, service: str) -> list[ReceivedLog]:
        """The log records of ``service`` received so far."""
        with self.lock:
            return [record for record in self.logs if record.service == service]

    def of(self, service: str) -> list[ReceivedSpan]:
        """The spans of ``service`` received so far."""
        with self.lock:
            return [span for span in self.spans if span.service == service]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 15.0) -> bool:
        """Poll ``condition`` until it holds or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


def _receiver_handler(receiver: OtlpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            # The services also push their export counters to /v1/metrics: not kept.
            path = self.path.split("?", 1)[0]
            if path == "/v1/traces":
                receiver.add(body)
            elif path == "/v1/logs":
                receiver.add_logs(body)
            answer = ExportLogsServiceResponse if path == "/v1/logs" else ExportTraceServiceResponse
            body = answer().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP/HTTP trace and log receiver on 127.0.0.1."""
    receiver = OtlpReceiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _receiver_handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[..., Service]]:
    """Start service processes (stopped again after the test)."""
    with ExitStack() as running:

        def _serve(name: str, env: Mapping[str, str] | None = None) -> Service:
            try:
                return running.enter_context(running_service(name, tmp_path, env))
            except ServiceFailedToStart as exc:
                pytest.fail(str(exc), pytrace=False)

        yield _serve
