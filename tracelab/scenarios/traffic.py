"""Drive the lab's journeys through the frontend and read back each answer's trace id."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from opentelemetry.instrumentation.utils import suppress_instrumentation

from tracelab.journeys import BY_NAME
from tracelab.journeys import journey as find_journey

JOURNEYS = tuple(BY_NAME)


@dataclass(frozen=True)
class Answer:
    """One request: journey, status, trace id (from ``traceresponse``) and latency."""

    journey: str
    status: int
    trace_id: str | None
    elapsed_ms: float


def trace_id_of(response: requests.Response) -> str | None:
    """The trace id of a W3C ``traceresponse`` header, or None."""
    parts = response.headers.get("traceresponse", "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


class Traffic:
    """Journeys against one frontend.

    ``local_only`` (the default) refuses any frontend but 127.0.0.1: bursts
    are a lab tool, not a load tester. The console, which fires one journey
    per click at the frontend of its own stack (``http://frontend:8080`` in
    Compose), turns it off.
    """

    def __init__(self, frontend_url: str, timeout: float = 15.0, *, local_only: bool = True):
        if local_only and not frontend_url.startswith(("http://127.0.0.1", "http://localhost")):
            raise ValueError(f"refusing to drive traffic at {frontend_url}: 127.0.0.1 only")
        self.url = frontend_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self._tokens: dict[int, str] = {}

    def _send(self, name: str, user: int, token: str | None) -> tuple[requests.Response, Answer]:
        planned = find_journey(name).request(user, token)
        started = time.perf_counter()
        # Only the journey's own request may be traced: never this process's context.
        with suppress_instrumentation():
            response = self.session.request(
                planned.method,
                self.url + planned.path,
                headers=planned.headers,
                json=planned.body,
                timeout=self.timeout,
            )
        elapsed = (time.perf_counter() - started) * 1000
        return response, Answer(name, response.status_code, trace_id_of(response), elapsed)

    def login(self, user: int = 1) -> Answer:
        """Log seed user ``user`` in; remember the token for the other journeys."""
        response, answer = self._send("login", user, None)
        if response.status_code == 200:
            self._tokens[user] = response.json()["token"]
        return answer

    def _token(self, user: int) -> str:
        if user not in self._tokens:
            answer = self.login(user)
            if answer.status != 200:
                raise RuntimeError(f"login of seed user {user} failed with {answer.status}")
        return self._tokens[user]

    def journey(self, name: str, user: int = 1) -> Answer:
        """Run the journey called ``name`` (see :mod:`tracelab.journeys`) as seed user ``user``."""
        if name == "login":
            return self.login(user)
        token = self._token(user) if find_journey(name).needs_token else None
        response, answer = self._send(name, user, token)
        if response.status_code == 401 and token is not None:
            # The remembered token may have expired: log in again, once.
            self._tokens.pop(user, None)
            response, answer = self._send(name, user, self._token(user))
        return answer

    def burst(self, name: str, total: int, concurrency: int, users: int = 8) -> list[Answer]:
        """``total`` runs of journey ``name``, ``concurrency`` at a time, over ``users`` users."""
        for user in range(1, users + 1):
            self._token(user)
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            futures = [pool.submit(self.journey, name, 1 + i % users) for i in range(total)]
            return [future.result() for future in futures]

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()
