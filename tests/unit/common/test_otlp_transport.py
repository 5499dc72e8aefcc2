"""The exporters' kept-alive HTTP transport, against real local HTTP(S) servers."""

from __future__ import annotations

import http.server
import os
import signal
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from opentelemetry.exporter.http.transport._requests import RequestsHTTPTransport
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common import otlp_transport
from services.common.otlp_encoding import FastOTLPSpanExporter
from services.common.otlp_log_encoding import FastOTLPLogExporter
from services.common.otlp_transport import ConnectFailed, KeepAliveTransport
from tracelab.stack.ports import find_free_port


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((self.client_address[1], self.path, dict(self.headers), body))
        time.sleep(self.server.delay_s)
        self.send_response(self.server.status)
        for name, value in self.server.extra_headers:
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        if self.server.close_after:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"ok")
        if self.server.drop_silently:
            # Closed without saying so, as a server ending an idle kept-alive connection.
            self.close_connection = True

    def log_message(self, *args) -> None:
        """Quiet."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[int, str, dict[str, str], bytes]] = []
        self.status = 200
        self.extra_headers: list[tuple[str, str]] = []
        self.delay_s = 0.0
        self.close_after = False
        self.drop_silently = False

    @property
    def url(self) -> str:
        scheme = "https" if isinstance(self.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://localhost:{self.server_address[1]}/v1/traces"


def _serve(server: _Server) -> Iterator[_Server]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    """A real HTTP server on loopback that records each request and its client port."""
    yield from _serve(_Server())


def _post(transport: KeepAliveTransport, url: str, body: bytes = b"batch", timeout: float = 5):
    return transport.request(
        "POST",
        url,
        headers={"Content-Type": "application/x-protobuf"},
        timeout=timeout,
        data=body,
    )


def test_a_post_arrives_whole_and_its_answer_comes_back(server):
    server.status = 503
    server.extra_headers = [("Retry-After", "7"), ("X-Twice", "a"), ("X-Twice", "b")]
    result = _post(KeepAliveTransport(), server.url + "?q=1", b"\x00\x01payload")
    assert (result.status_code, result.reason, result.error) == (503, "Service Unavailable", None)
    assert result.content() == b"ok"
    assert result.headers()["retry-after"] == "7"
    assert result.headers()["RETRY-AFTER"] == "7"
    assert result.headers()["x-twice"] == "a, b"
    _, path, headers, body = server.seen[0]
    assert path == "/v1/traces?q=1"
    assert body == b"\x00\x01payload"
    assert headers["Content-Type"] == "application/x-protobuf"


def test_one_connection_carries_every_request(server):
    transport = KeepAliveTransport()
    for _ in range(5):
        assert _post(transport, server.url).status_code == 200
    assert len({port for port, *_ in server.seen}) == 1


def test_a_connection_the_server_closes_is_replaced(server):
    server.close_after = True
    transport = KeepAliveTransport()
    assert [_post(transport, server.url).status_code for _ in range(3)] == [200, 200, 200]
    assert len({port for port, *_ in server.seen}) == 3


def test_a_silently_closed_connection_fails_as_a_connection_error_and_the_next_one_works(
    server,
):
    server.drop_silently = True
    transport = KeepAliveTransport()
    assert _post(transport, server.url).status_code == 200
    time.sleep(0.1)  # the server has closed its end by now
    broken = _post(transport, server.url)
    assert broken.status_code is None and transport.is_connection_error(broken.error)
    assert _post(transport, server.url).status_code == 200


def test_the_exporter_rides_out_a_silently_closed_connection(server):
    """The SDK's client sends again at once after a connection error: no batch is lost."""
    server.drop_silently = True
    exporter = FastOTLPSpanExporter(endpoint=server.url, timeout=5)
    assert isinstance(exporter._client._transport, KeepAliveTransport)
    spans = _spans(3)
    for _ in range(3):
        assert exporter.export(spans) == SpanExportResult.SUCCESS
        time.sleep(0.1)
    assert len(server.seen) == 3
    exporter.shutdown()


def test_a_forked_child_opens_its_own_connection_and_never_waits_on_the_parents_lock(server):
    """gunicorn forks its workers from a master whose SDK may have exported already."""
    transport = KeepAliveTransport()
    assert _post(transport, server.url).status_code == 200
    transport._lock.acquire()  # as if the parent's export thread held it at the fork
    try:
        pid = os.fork()
        if pid == 0:  # the child: exit with the outcome, whatever happens
            code = 1
            try:
                code = 0 if _post(transport, server.url).status_code == 200 else 1
            finally:
                os._exit(code)
    finally:
        transport._lock.release()
    deadline = time.monotonic() + 10
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the child waited for ever on the lock it inherited")
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert _post(transport, server.url).status_code == 200  # the parent's connection still works
    assert len({port for port, *_ in server.seen}) == 2  # the parent's, and the child's own


def test_a_refused_connection_is_a_connection_error():
    result = _post(KeepAliveTransport(), f"http://127.0.0.1:{find_free_port()}/v1/traces")
    assert isinstance(result.error, ConnectFailed)
    assert KeepAliveTransport().is_connection_error(result.error)


def test_a_read_timeout_is_not_sent_again_at_once(server):
    server.delay_s = 1.0
    transport = KeepAliveTransport()
    started = time.monotonic()
    result = _post(transport, server.url, timeout=0.2)
    assert time.monotonic() - started < 0.9
    assert isinstance(result.error, TimeoutError)
    assert not transport.is_connection_error(result.error)  # the server may have the batch


def test_a_url_that_is_not_http_is_an_error_not_an_exception():
    result = _post(KeepAliveTransport(), "ftp://example.invalid/v1/traces")
    assert isinstance(result.error, ValueError) and result.status_code is None


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost, made with openssl."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate) -> Iterator[_Server]:
    """The recording server behind TLS."""
    server = _Server()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from _serve(server)


def test_tls_is_verified_against_the_given_ca_bundle(tls_server, certificate):
    cert, _ = certificate
    assert _post(KeepAliveTransport(verify=str(cert)), tls_server.url).status_code == 200
    unverified = _post(KeepAliveTransport(verify=True), tls_server.url)
    assert isinstance(unverified.error, ConnectFailed)
    assert "CERTIFICATE_VERIFY_FAILED" in str(unverified.error)
    assert _post(KeepAliveTransport(verify=False), tls_server.url).status_code == 200


def test_an_endpoint_behind_a_proxy_goes_through_the_stock_transport(server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{find_free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    transport = KeepAliveTransport()
    result = _post(transport, server.url.replace("localhost", "collector.example"))
    assert isinstance(transport._stock(), RequestsHTTPTransport)
    assert isinstance(result.error, requests.exceptions.ProxyError)
    assert server.seen == []


# -- which exporters get it --------------------------------------------------------------
def test_both_exporters_send_over_it_with_the_sdks_certificate_settings(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", "/general/ca.pem")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", "/logs/ca.pem")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/general/client.pem")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/general/client.key")
    spans = FastOTLPSpanExporter()._client._transport
    logs = FastOTLPLogExporter()._client._transport
    assert isinstance(spans, KeepAliveTransport) and isinstance(logs, KeepAliveTransport)
    assert spans._verify == "/general/ca.pem" and logs._verify == "/logs/ca.pem"
    assert spans._cert == ("/general/client.pem", "/general/client.key")
    argued = FastOTLPSpanExporter(certificate_file="/arg/ca.pem")._client._transport
    assert argued._verify == "/arg/ca.pem"


def test_the_stock_transport_stays_where_ours_would_differ(monkeypatch):
    with_session = FastOTLPSpanExporter(session=requests.Session())._client._transport
    assert isinstance(with_session, RequestsHTTPTransport)
    monkeypatch.setenv("OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER", "some_provider")
    assert not isinstance(
        otlp_transport.exporter_kwargs(
            OTLPSpanExporter.__init__, otlp_transport.TRACES, (), {}
        ).get("_transport"),
        KeepAliveTransport,
    )
    monkeypatch.delenv("OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER")
    monkeypatch.setattr(otlp_transport, "keep_alive_supported", lambda: False)
    untested = FastOTLPSpanExporter()._client._transport
    assert isinstance(untested, RequestsHTTPTransport)


def test_an_untested_transport_package_keeps_the_stock_transport_with_one_warning(
    monkeypatch, caplog
):
    monkeypatch.setattr(otlp_transport, "TESTED_TRANSPORT_VERSIONS", ("0.0b0",))
    otlp_transport.transport_package_tested.cache_clear()
    try:
        with caplog.at_level("WARNING", logger=otlp_transport.__name__):
            assert isinstance(FastOTLPSpanExporter()._client._transport, RequestsHTTPTransport)
            assert isinstance(FastOTLPLogExporter()._client._transport, RequestsHTTPTransport)
        warnings = [r for r in caplog.records if otlp_transport.TRANSPORT_PACKAGE in r.message]
        assert len(warnings) == 1 and "0.66b1" in warnings[0].message
    finally:
        otlp_transport.transport_package_tested.cache_clear()


def _spans(n: int):
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    for index in range(n):
        with tracer.start_as_current_span(f"span-{index}"):
            pass
    return memory.get_finished_spans()
