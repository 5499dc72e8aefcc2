"""The status-mapping table of docs/architecture.md as data, and a server that plays each row.

Every hop's unit tests walk :data:`ROWS`: the hop's downstream is a
:class:`CannedServer` answering the row's way (or a closed port, or a stall),
and the hop must answer the row's status, code, message and ``Retry-After``,
never the downstream's ``details``. ``tests/unit/common/test_status_mapping.py``
checks that the documented table says exactly what these rows say.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REFUSED = "refused"  # no server: the connection is refused
STALL = "stall"  # the server answers long after the caller's budget
STALL_S = 2.0
# The budget (ms) a test gives a hop for the stall row: its call times out.
SHORT_BUDGET_MS = 300


def error(status: int, code: str, message: str, details: Any = None) -> dict[str, Any]:
    """A JSON error body in the common format."""
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


@dataclass(frozen=True)
class Row:
    """One row: how the downstream answers, and what the hop that called it answers.

    ``message`` may name the downstream service as ``{service}``; None means
    any message (a malformed answer's message names what was malformed).
    """

    key: str
    answer: int | str  # a status, REFUSED or STALL
    body: Any = None  # JSON-able, or raw bytes
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 0
    code: str = ""
    message: str | None = None
    retry_after: int | None = None

    def expected_message(self, service: str) -> str | None:
        """The message the hop answers, for downstream ``service``."""
        return None if self.message is None else self.message.format(service=service)


DETAILS = [{"field": "email", "problem": "is required"}]
ROWS = [
    Row(
        "4xx",
        422,
        error(422, "validation_failed", "invalid fields: email", DETAILS),
        status=422,
        code="validation_failed",
        message="invalid fields: email",
    ),
    Row(
        "4xx-plain",
        409,
        b"conflict",
        status=409,
        code="conflict",
        message="{service} refused the request",
    ),
    Row(
        "500",
        500,
        b"Internal Server Error",
        status=502,
        code="bad_gateway",
        message="{service} failed with status 500",
    ),
    Row(
        "502",
        502,
        error(502, "bad_gateway", "db sent a malformed profile"),
        status=502,
        code="bad_gateway",
        message="db sent a malformed profile",
    ),
    Row(
        "503",
        503,
        error(503, "database_unavailable", "the database is not available"),
        {"Retry-After": "7"},
        status=503,
        code="database_unavailable",
        message="the database is not available",
        retry_after=7,
    ),
    Row(
        "503-plain",
        503,
        b"",
        status=503,
        code="service_unavailable",
        message="{service} is unavailable",
        retry_after=1,
    ),
    Row(
        "504",
        504,
        error(504, "deadline_exceeded", "the request's time budget ran out before db started"),
        status=504,
        code="deadline_exceeded",
        message="the request's time budget ran out before db started",
    ),
    Row("garbage", 200, b"<html>not json</html>", status=502, code="bad_gateway"),
    Row(
        "refused",
        REFUSED,
        status=503,
        code="service_unavailable",
        message="{service} is unreachable",
        retry_after=1,
    ),
    Row(
        "timeout",
        STALL,
        status=504,
        code="gateway_timeout",
        message="{service} timed out",
    ),
]
ROW_IDS = [row.key for row in ROWS]
# The raw JSON clients return any 2xx body as it is: a malformed answer is the
# typed clients' (and so the hops') to refuse.
CLIENT_ROWS = [row for row in ROWS if row.key != "garbage"]


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


class CannedServer(ThreadingHTTPServer):
    """Answers every request the way one :class:`Row` says (in its own threads)."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, row: Row) -> None:
        self.row = row
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        super().__init__(("127.0.0.1", 0), _CannedHandler)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.server_address[1]}"


class _CannedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CannedServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        row = self.server.row
        self.server.requests.append((self.command, self.path, dict(self.headers.items())))
        if row.answer == STALL:
            time.sleep(STALL_S)
            status, body = 200, b"{}"
        else:
            status = int(row.answer)
            body = row.body if isinstance(row.body, bytes) else json.dumps(row.body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in row.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the caller gave up (the stall row)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@contextmanager
def downstream(row: Row) -> Iterator[tuple[str, CannedServer | None]]:
    """The base URL of a downstream that answers as ``row`` says (and its server)."""
    if row.answer == REFUSED:
        yield _closed_port_url(), None
        return
    server = CannedServer(row)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.daemon = True
    thread.start()
    try:
        yield server.url, server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def assert_row(row: Row, status: int, headers: Any, body: Any, service: str) -> None:
    """Assert that a hop answered ``row``'s way when its downstream ``service`` did."""
    assert status == row.status, body
    error_body = body["error"]
    assert (error_body["status"], error_body["code"]) == (row.status, row.code), body
    expected = row.expected_message(service)
    if expected is not None:
        assert error_body["message"] == expected
    assert "details" not in error_body, "a downstream's details reached the caller"
    retry_after = headers.get("Retry-After")
    assert retry_after == (None if row.retry_after is None else str(row.retry_after))
