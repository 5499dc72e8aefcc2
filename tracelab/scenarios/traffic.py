"""Drive the lab's journeys through the frontend and read back each answer's trace id."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from opentelemetry.instrumentation.utils import suppress_instrumentation

from services.db.seed import seed_password, seed_user

JOURNEYS = ("login", "profile", "dashboard", "bad_token", "not_found")


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
    """Journeys against one frontend (127.0.0.1 only: this is a lab tool, not a load tester)."""

    def __init__(self, frontend_url: str, timeout: float = 15.0) -> None:
        if not frontend_url.startswith(("http://127.0.0.1", "http://localhost")):
            raise ValueError(f"refusing to drive traffic at {frontend_url}: 127.0.0.1 only")
        self.url = frontend_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self._tokens: dict[int, str] = {}

    def _send(self, journey: str, method: str, path: str, **kwargs) -> Answer:
        started = time.perf_counter()
        with suppress_instrumentation():
            response = self.session.request(method, self.url + path, timeout=self.timeout, **kwargs)
        elapsed = (time.perf_counter() - started) * 1000
        return Answer(journey, response.status_code, trace_id_of(response), elapsed)

    def login(self, user: int = 1) -> Answer:
        """Log seed user ``user`` in; remember the token for the other journeys."""
        body = {"email": seed_user(user).email, "password": seed_password(user)}
        started = time.perf_counter()
        with suppress_instrumentation():
            response = self.session.post(f"{self.url}/api/login", json=body, timeout=self.timeout)
        if response.status_code == 200:
            self._tokens[user] = response.json()["token"]
        elapsed = (time.perf_counter() - started) * 1000
        return Answer("login", response.status_code, trace_id_of(response), elapsed)

    def _auth(self, user: int) -> dict[str, str]:
        if user not in self._tokens:
            answer = self.login(user)
            if answer.status != 200:
                raise RuntimeError(f"login of seed user {user} failed with {answer.status}")
        return {"Authorization": f"Bearer {self._tokens[user]}"}

    def profile(self, user: int = 1) -> Answer:
        """``GET /api/users/<user>`` as that user."""
        return self._send("profile", "GET", f"/api/users/{user}", headers=self._auth(user))

    def dashboard(self, user: int = 1) -> Answer:
        """``GET /api/dashboard`` as ``user``."""
        return self._send("dashboard", "GET", "/api/dashboard", headers=self._auth(user))

    def bad_token(self, user: int = 1) -> Answer:
        """A profile call with a forged token (401)."""
        headers = {"Authorization": "Bearer not-a-real-token"}
        return self._send("bad_token", "GET", f"/api/users/{user}", headers=headers)

    def not_found(self, user: int = 1) -> Answer:
        """A profile call for a user that does not exist (404)."""
        return self._send("not_found", "GET", "/api/users/999999", headers=self._auth(user))

    def journey(self, name: str, user: int = 1) -> Answer:
        """Run the journey called ``name`` (one of :data:`JOURNEYS`)."""
        if name not in JOURNEYS:
            raise ValueError(f"unknown journey {name!r}; known: {', '.join(JOURNEYS)}")
        method: Callable[[int], Answer] = getattr(self, name)
        return method(user)

    def burst(self, name: str, total: int, concurrency: int, users: int = 8) -> list[Answer]:
        """``total`` runs of journey ``name``, ``concurrency`` at a time, over ``users`` users."""
        for user in range(1, users + 1):
            self._auth(user)
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            futures = [pool.submit(self.journey, name, 1 + i % users) for i in range(total)]
            return [future.result() for future in futures]

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()
