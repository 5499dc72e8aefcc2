"""The small HTTP servers the microbenchmarks run in their own processes.

Each listens on a free 127.0.0.1 port, prints ``PORT <n>`` for its parent
and answers with keep-alive; run as scripts, they import this module from
their own folder.
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 (keep-alive), no access log, one way to answer."""

    protocol_version = "HTTP/1.1"

    def answer(self, body: bytes, content_type: str) -> None:
        """A 200 with ``body``."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def serve(handler: type[BaseHTTPRequestHandler]) -> None:
    """Listen on a free port, print ``PORT <n>``, serve until killed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    sys.stdout.write(f"PORT {server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever()
