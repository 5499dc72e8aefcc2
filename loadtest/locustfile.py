"""tracelab load: the journeys of DESIGN.md section 3 as weighted Locust tasks.

Run it with ``make load`` (headless, CSV + HTML report in loadtest/output/)
or ``make load-ui`` (web UI on http://127.0.0.1:8089); Compose and
Kubernetes run the same file in the official Locust image. So that it works
there, this file is self-contained: Locust and the standard library only.
The benchmark (tracelab.bench.workload) drives the same journeys with the
same weights; tests/bench/test_locustfile.py keeps the two in step.

Every simulated user logs in once as a seed account (user0001..user1000),
then browses with think time: profile most, dashboard, an occasional
re-login, and a small share of requests with a bad token (401) or for a user
that does not exist (404). Requests are named ``<journey>: <METHOD> <route>``
and tagged with their journey (``--tags profile dashboard``...).

Every request carries the W3C baggage entry ``synthetic_request=true``.
The frontend only lets it through when it trusts its callers' trace context
(``FRONTEND_TRUST_TRACEPARENT=true``, set by loadtest/profiles/stack.env for
``make load``); with the default (false) it starts a new trace, links the
caller's context and drops the caller's baggage. Locust sends no
``traceparent``, so the services' sampler makes every sampling decision.
"""

from __future__ import annotations

import itertools
import random
import threading
from typing import Any, ClassVar

from locust import FastHttpUser, between, tag, task

SEED_USER_COUNT = 1000
SYNTHETIC_BAGGAGE = "synthetic_request=true"
BAD_TOKEN = "not-a-real-token"
NOT_FOUND_USER_ID = 999_999

# Same journeys and weights as tracelab.bench.workload.JOURNEYS.
JOURNEY_WEIGHTS = {"profile": 60, "dashboard": 25, "login": 5, "bad_token": 5, "not_found": 5}
EXPECTED_STATUS = {
    "profile": 200,
    "dashboard": 200,
    "login": 200,
    "bad_token": 401,
    "not_found": 404,
}

_numbers = itertools.count(random.randrange(SEED_USER_COUNT))
_numbers_lock = threading.Lock()


def seed_email(number: int) -> str:
    """Email of seed user ``number`` (as services/db/seed.py makes it)."""
    return f"user{number:04d}@tracelab.test"


def seed_password(number: int) -> str:
    """Password of seed user ``number``."""
    return f"tracelab-pass-{number:04d}"


def next_account() -> int:
    """The next seed user number, cycling through 1..SEED_USER_COUNT."""
    with _numbers_lock:
        return next(_numbers) % SEED_USER_COUNT + 1


def request_name(journey: str, method: str, route: str) -> str:
    """The name a request is reported under: ``<journey>: <METHOD> <route>``."""
    return f"{journey}: {method} {route}"


class TracelabUser(FastHttpUser):
    """A person using the lab's frontend API."""

    wait_time = between(0.5, 2.0)
    # Sent with every request; each request below adds it too, so a
    # per-request header set can never lose it.
    default_headers: ClassVar[dict[str, str]] = {"baggage": SYNTHETIC_BAGGAGE}

    number: int = 0
    token: str | None = None

    def on_start(self) -> None:
        """Pick a seed account and log in."""
        self.number = next_account()
        self.login()

    # -- helpers -------------------------------------------------------------------
    def _headers(self, token: str | None = None) -> dict[str, str]:
        headers = {"baggage": SYNTHETIC_BAGGAGE}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _get(self, journey: str, path: str, route: str, token: str | None) -> Any:
        """GET ``path``; success means the journey's expected status."""
        with self.client.get(
            path,
            headers=self._headers(token),
            name=request_name(journey, "GET", route),
            catch_response=True,
        ) as response:
            self._judge(journey, response)
            return response

    def _judge(self, journey: str, response: Any) -> None:
        expected = EXPECTED_STATUS[journey]
        if response.status_code == expected:
            response.success()
        else:
            response.failure(f"expected {expected}, got {response.status_code}")

    # -- journeys ------------------------------------------------------------------
    @tag("login")
    @task(JOURNEY_WEIGHTS["login"])
    def login(self) -> None:
        """POST /api/login with the account's credentials; keep the token."""
        body = {"email": seed_email(self.number), "password": seed_password(self.number)}
        with self.client.post(
            "/api/login",
            json=body,
            headers=self._headers(),
            name=request_name("login", "POST", "/api/login"),
            catch_response=True,
        ) as response:
            self._judge("login", response)
            if response.status_code == 200:
                self.token = response.json()["token"]

    @tag("profile")
    @task(JOURNEY_WEIGHTS["profile"])
    def profile(self) -> None:
        """GET /api/users/<own id>."""
        response = self._get("profile", f"/api/users/{self.number}", "/api/users/[id]", self.token)
        if response.status_code == 401:
            self.login()

    @tag("dashboard")
    @task(JOURNEY_WEIGHTS["dashboard"])
    def dashboard(self) -> None:
        """GET /api/dashboard: profile and activity, fanned out by the gateway."""
        response = self._get("dashboard", "/api/dashboard", "/api/dashboard", self.token)
        if response.status_code == 401:
            self.login()

    @tag("bad_token")
    @task(JOURNEY_WEIGHTS["bad_token"])
    def bad_token(self) -> None:
        """GET a profile with a token auth rejects: 401 expected."""
        self._get("bad_token", f"/api/users/{self.number}", "/api/users/[id]", BAD_TOKEN)

    @tag("not_found")
    @task(JOURNEY_WEIGHTS["not_found"])
    def not_found(self) -> None:
        """GET a user id no account has: 404 expected."""
        self._get("not_found", f"/api/users/{NOT_FOUND_USER_ID}", "/api/users/[id]", self.token)
