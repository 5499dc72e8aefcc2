"""A real HTTP server on 127.0.0.1 that speaks the gateway's JSON contract.

The frontend's unit tests point the real GatewayClient at it, so the requests
instrumentation, timeouts and error mapping run for real; the server records
every request it received (headers included) for the tests to inspect.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "tok-user-1"
EMAIL = "user0001@tracelab.test"
PASSWORD = "tracelab-pass-0001"
KNOWN_USERS = range(1, 11)


@dataclass(frozen=True)
class Received:
    """One request as the fake gateway saw it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Canned:
    """A fixed answer for one method and path."""

    status: int
    body: Any
    raw: bytes | None = None


def profile(user_id: int) -> dict[str, Any]:
    """The profile the fake gateway answers for ``user_id``."""
    return {
        "id": user_id,
        "email": f"user{user_id:04d}@tracelab.test",
        "name": f"User {user_id}",
        "created_at": "2026-01-01T00:00:00+00:00",
    }


def error(status: int, code: str, message: str) -> dict[str, Any]:
    """The common JSON error body."""
    return {"error": {"status": status, "code": code, "message": message}}


@dataclass
class FakeGateway:
    """The fake gateway's behaviour and what it received; ``url`` once started."""

    received: list[Received] = field(default_factory=list)
    canned: dict[tuple[str, str], Canned] = field(default_factory=dict)
    stall: threading.Event | None = None
    url: str = ""

    def answer(
        self, method: str, path: str, status: int, body: Any = None, raw: bytes | None = None
    ):
        """Answer ``method path`` with ``status`` and ``body`` (or ``raw`` bytes) from now on."""
        self.canned[(method, path)] = Canned(status, body, raw)

    def stall_until_released(self) -> threading.Event:
        """Make every request wait until the returned event is set (timeout tests)."""
        self.stall = threading.Event()
        return self.stall

    def calls(self, path: str) -> list[Received]:
        """The requests received for ``path`` (health checks excluded unless asked)."""
        return [r for r in self.received if r.path == path]

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes):
        """The status and JSON body of the contract's answer to one request."""
        if (method, path) in self.canned:
            canned = self.canned[(method, path)]
            return canned.status, canned.raw if canned.raw is not None else canned.body
        if method == "GET" and path == "/healthz":
            return 200, {"status": "ok"}
        if method == "POST" and path == "/api/login":
            return self._login(body)
        if method == "GET" and (path == "/api/dashboard" or path.startswith("/api/users/")):
            refused = self._refuse(headers.get("authorization"))
            if refused:
                return refused
            if path == "/api/dashboard":
                activity = [{"id": 1, "kind": "login", "detail": "web", "created_at": "2026"}]
                return 200, {"profile": profile(1), "activity": activity}
            match = re.fullmatch(r"/api/users/(\d+)", path)
            if match and int(match.group(1)) in KNOWN_USERS:
                return 200, profile(int(match.group(1)))
            return 404, error(404, "user_not_found", "no such user")
        return 404, error(404, "not_found", "no such route")

    @staticmethod
    def _login(body: bytes):
        credentials = json.loads(body)
        if credentials == {"email": EMAIL, "password": PASSWORD}:
            return 200, {"token": TOKEN, "user_id": 1}
        return 401, error(401, "invalid_credentials", "email or password is wrong")

    @staticmethod
    def _refuse(authorization: str | None):
        scheme, _, token = (authorization or "").partition(" ")
        if scheme != "Bearer" or not token:
            return 401, error(401, "missing_token", "a bearer token is required")
        if token != TOKEN:
            return 401, error(401, "invalid_token", "token is not valid")
        return None


def _handler_for(fake: FakeGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            fake.received.append(Received(self.command, self.path, headers, body))
            if fake.stall is not None:
                fake.stall.wait(timeout=10)
            status, payload = fake.respond(self.command, self.path, headers, body)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the default stderr access log."""

    return Handler


class FakeGatewayServer(ThreadingHTTPServer):
    """The threaded HTTP server that serves a :class:`FakeGateway`."""

    daemon_threads = True
    block_on_close = False


def start(fake: FakeGateway) -> tuple[FakeGatewayServer, threading.Thread]:
    """Serve ``fake`` on a free port of 127.0.0.1 in a background thread."""
    server = FakeGatewayServer(("127.0.0.1", 0), _handler_for(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},
        name="fake-gateway",
        daemon=True,
    )
    thread.start()
    return server, thread
