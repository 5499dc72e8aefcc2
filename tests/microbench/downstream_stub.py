"""Canned answers of auth, user and db for the per-request instruction benchmark.

``python tests/microbench/downstream_stub.py`` listens on a free 127.0.0.1
port, prints ``PORT <n>`` and answers, with keep-alive, what the measured
service asks of its downstreams: ``POST /verify`` (auth), ``GET /users/<id>``
(user and db) and ``GET /users/<id>/activity`` (user and db). Run in its own
process, its CPU stays out of the measured one.
"""

from __future__ import annotations

import json

from stub_server import QuietHandler, serve

PROFILE = {"id": 7, "email": "user0007@tracelab.test", "name": "User 7", "created_at": "2026-01-01"}
ACTIVITY = {
    "items": [
        {"id": n, "kind": "login", "detail": "web", "created_at": "2026-01-01"} for n in range(10)
    ]
}


class Handler(QuietHandler):
    """The few routes the services call."""

    def do_POST(self) -> None:
        """``/verify``: the token's user."""
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer({"user_id": 7})

    def do_GET(self) -> None:
        """A profile, or an activity page."""
        self._answer(ACTIVITY if "/activity" in self.path else PROFILE)

    def _answer(self, payload: object) -> None:
        self.answer(json.dumps(payload).encode(), "application/json")


def main() -> None:
    """Serve until killed."""
    serve(Handler)


if __name__ == "__main__":
    main()
