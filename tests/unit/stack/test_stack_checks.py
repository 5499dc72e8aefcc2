"""Readiness checks against a real local HTTP server and sockets."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tracelab.stack.checks import (
    HttpCheck,
    PostgresCheck,
    TcpCheck,
    all_pass,
    check_from_dict,
)
from tracelab.stack.ports import find_free_port


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path.startswith("/ok") else 503)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_port():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_http_check_passes_only_on_200(http_port):
    assert HttpCheck(f"http://127.0.0.1:{http_port}/ok?x=1")()
    assert not HttpCheck(f"http://127.0.0.1:{http_port}/readyz")()
    assert not HttpCheck(f"http://127.0.0.1:{find_free_port()}/ok")()


def test_tcp_check_follows_the_listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert TcpCheck("127.0.0.1", port)()
    assert not TcpCheck("127.0.0.1", port)()


def test_postgres_check_fails_fast_without_a_server():
    assert not PostgresCheck(f"postgresql://x:y@127.0.0.1:{find_free_port()}/z")()


def test_checks_round_trip_through_the_state_file_format(http_port):
    checks = [
        HttpCheck("http://127.0.0.1:1/x"),
        TcpCheck("127.0.0.1", 5),
        PostgresCheck("postgresql://a@b/c"),
    ]
    assert [check_from_dict(c.to_dict()) for c in checks] == checks
    with pytest.raises(ValueError, match="unknown readiness check"):
        check_from_dict({"grpc": "x"})


def test_all_pass_stops_at_the_first_failure(http_port):
    calls = []

    def failing() -> bool:
        calls.append("failing")
        return False

    def never() -> bool:
        calls.append("never")
        return True

    assert not all_pass([failing, never])
    assert calls == ["failing"]
    assert all_pass([HttpCheck(f"http://127.0.0.1:{http_port}/ok")])
