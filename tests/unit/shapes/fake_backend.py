"""A tiny real HTTP server on 127.0.0.1 that replays recorded backend answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Backend:
    """Answers per path, served in turn (the last one repeats); requests seen."""

    url: str = ""
    answers: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    queries: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _served: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, *responses: tuple[int, Any]) -> None:
        """Serve ``responses`` (status, JSON body) at ``path``, one per request."""
        self.answers[path] = list(responses)
        self._served[path] = 0

    def next_answer(self, path: str) -> tuple[int, Any]:
        with self._lock:
            responses = self.answers.get(path)
            if not responses:
                return 404, {"data": None, "errors": [{"code": 404, "msg": "not found"}]}
            index = min(self._served.get(path, 0), len(responses) - 1)
            self._served[path] = self._served.get(path, 0) + 1
            return responses[index]

    def query_of(self, path: str) -> dict[str, str]:
        """The query parameters of the last request to ``path``."""
        return next(q for seen, q in reversed(self.queries) if seen == path)

    def hits(self, path: str) -> int:
        """How many requests reached ``path``."""
        return sum(1 for seen, _ in self.requests if seen == path)


def _handler(backend: Backend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            backend.requests.append((path, dict(self.headers.items())))
            backend.queries.append((path, {k: v[-1] for k, v in parse_qs(query).items()}))
            status, body = backend.next_answer(path)
            payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve() -> Iterator[Backend]:
    """Run a :class:`Backend` on a free port for the duration of the block."""
    backend = Backend()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(backend))
    backend.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield backend
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
