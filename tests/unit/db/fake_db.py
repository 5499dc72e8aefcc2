"""A tiny real HTTP server on 127.0.0.1 that speaks the db service's JSON contract.

Unit tests of db's callers (auth, the db clients) talk to it over real HTTP,
so the requests/aiohttp client instrumentation and header propagation are
exercised without PostgreSQL. It is a plain stdlib server: it makes no spans.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from argon2 import PasswordHasher

USER_ID = 7
EMAIL = "user0007@tracelab.test"
PASSWORD = "correct horse battery staple"
BROKEN_EMAIL = "broken@tracelab.test"  # db answers 500
GARBLED_EMAIL = "garbled@tracelab.test"  # db answers 200 with a body of the wrong shape
GARBLED_USER = 666
# Cheap parameters: verify() reads them from the hash, and unit tests stay fast.
PASSWORD_HASH = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)

PROFILE = {
    "id": USER_ID,
    "email": EMAIL,
    "name": "Grace Abbott",
    "created_at": "2024-01-01T00:07:00+00:00",
}


def activity_items(limit: int) -> list[dict[str, Any]]:
    """The fake user's activity, newest first (three entries at most)."""
    return [
        {
            "id": 100 + n,
            "kind": "login",
            "detail": f"signed in (#{n})",
            "created_at": f"2024-01-0{n}T00:00:00+00:00",
        }
        for n in range(3, 3 - min(limit, 3), -1)
    ]


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message}}


@dataclass
class Received:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeDb:
    """The running fake: its base URL and every request it received."""

    url: str
    requests: list[Received] = field(default_factory=list)


def _answer(method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
    if method == "GET" and path == "/healthz":
        return 200, {"status": "ok"}
    if method == "POST" and path == "/users/lookup":
        email = body.get("email") if isinstance(body, dict) else None
        if email == EMAIL:
            return 200, {"id": USER_ID, "email": EMAIL, "password_hash": PASSWORD_HASH}
        if email == BROKEN_EMAIL:
            return 500, _error(500, "internal_error", "internal server error")
        if email == GARBLED_EMAIL:
            return 200, {"id": "seven"}
        return 404, _error(404, "user_not_found", "no such user")
    match = re.fullmatch(r"/users/(\d+)(/activity)?", path)
    if method == "GET" and match:
        user_id = int(match.group(1))
        if user_id == GARBLED_USER:
            return 200, {"items": "none"} if match.group(2) else {"id": user_id}
        if user_id != USER_ID:
            return 404, _error(404, "user_not_found", "no such user")
        if match.group(2):
            return 200, {"items": activity_items(int(query.get("limit", ["10"])[0]))}
        return 200, PROFILE
    return 404, _error(404, "not_found", "no such endpoint")


def _handler(fake: FakeDb) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            query = parse_qs(url.query)
            fake.requests.append(
                Received(self.command, url.path, query, dict(self.headers.items()), body)
            )
            status, payload = _answer(self.command, url.path, query, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


@contextmanager
def running_fake_db() -> Iterator[FakeDb]:
    """Serve the fake on a free port of 127.0.0.1 until the block ends."""
    fake = FakeDb(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_url() -> str:
    """The URL of a port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
