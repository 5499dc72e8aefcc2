"""Real service processes (gunicorn or aiohttp, as ``make up`` runs them) and an OTLP receiver.

``serve`` starts ``python -m services.<name>`` on a free port with the given
environment and waits for ``/healthz``; the receiver is a real OTLP/HTTP
endpoint in this process that keeps every span it is sent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tracelab.stack.ports import find_free_port

ROOT = Path(__file__).resolve().parents[3]
ADMIN_TOKEN = "integration-admin-token"


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the receiver decoded it."""

    service: str
    name: str
    kind: int
    attributes: dict[str, Any]
    events: tuple[str, ...]


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


@dataclass
class OtlpReceiver:
    """The spans received so far, and where to send them."""

    url: str = ""
    spans: list[ReceivedSpan] = field(default_factory=list)
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
                    )
                    with self.lock:
                        self.spans.append(received)

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
            receiver.add(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            body = ExportTraceServiceResponse().SerializeToString()
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
    """A real OTLP/HTTP trace receiver on 127.0.0.1."""
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


@dataclass
class Service:
    """A running service process."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM, as a process manager stops it; its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def _wait_healthy(service: Service, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            break
        try:
            if requests.get(f"{service.url}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(f"{service.name} did not start:\n{service.log.read_text()[-3000:]}")


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[..., Service]]:
    """Start service processes (stopped again after the test)."""
    started: list[Service] = []

    def _serve(name: str, env: Mapping[str, str] | None = None) -> Service:
        port = find_free_port()
        environ = {
            **os.environ,
            "PORT": str(port),
            "BIND_HOST": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
            "TRACELAB_ADMIN_TOKEN": ADMIN_TOKEN,
            "OTEL_SDK_DISABLED": "true",
            **(env or {}),
        }
        log = tmp_path / f"{name}-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"],
                cwd=ROOT,
                env=environ,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        service = Service(name, f"http://127.0.0.1:{port}", process, log)
        started.append(service)
        _wait_healthy(service)
        return service

    yield _serve
    for service in started:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait(timeout=10)
