"""The user journeys of DESIGN.md section 3: their one definition.

The Locust file (``loadtest/locustfile.py``: ``make load`` and the
benchmark's load), the console's buttons, ``tracelab scenario check``'s
traffic, the open-loop generator and the e2e tests all build their requests
here. It needs the standard library and :mod:`services.db.accounts` only:
the Compose and Kubernetes Locust containers run the official Locust image
with these two files mounted beside the locustfile (docs/benchmark.md).
The lab's views of a journey (its trace search, its golden shape) are in
:mod:`tracelab.shapes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.db.accounts import seed_email, seed_password

# Every request carries this W3C baggage entry so backends can tell synthetic
# traffic apart. The frontend only continues it with FRONTEND_TRUST_TRACEPARENT=true.
SYNTHETIC_BAGGAGE = "synthetic_request=true"
BAD_TOKEN = "not-a-real-token"
# A user id no seed account has: GET /api/users/<id> answers 404.
NOT_FOUND_USER_ID = 999_999


@dataclass(frozen=True)
class JourneyRequest:
    """One HTTP request to the frontend."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Journey:
    """A journey: what a person does, the status it answers, its share of the load mix.

    ``needs_token``: the request carries the logged-in user's bearer token
    (the caller logs in first). ``root`` is the name of the frontend's server
    span, the root of the journey's trace.
    """

    name: str
    title: str
    summary: str
    method: str
    expected_status: int
    weight: int
    needs_token: bool
    root: str

    @property
    def request_name(self) -> str:
        """The name Locust reports its requests under: ``<journey>: <root span>``."""
        return f"{self.name}: {self.root}"

    def request(self, user: int, token: str | None = None) -> JourneyRequest:
        """The request of this journey made by seed user ``user`` (with its ``token``)."""
        if self.needs_token and not token:
            raise ValueError(f"journey {self.name} needs the user's token: log in first")
        bearer = {"Authorization": f"Bearer {token}"} if token else {}
        if self.name == "login":
            body = {"email": seed_email(user), "password": seed_password(user)}
            return JourneyRequest("POST", "/api/login", {}, body)
        if self.name == "profile":
            return JourneyRequest("GET", f"/api/users/{user}", bearer)
        if self.name == "dashboard":
            return JourneyRequest("GET", "/api/dashboard", bearer)
        if self.name == "bad_token":
            return JourneyRequest(
                "GET", f"/api/users/{user}", {"Authorization": f"Bearer {BAD_TOKEN}"}
            )
        if self.name == "not_found":
            return JourneyRequest("GET", f"/api/users/{NOT_FOUND_USER_ID}", bearer)
        raise ValueError(f"unknown journey {self.name!r}")


# Order = the load mix's order (the benchmark plans refer to journeys by index).
JOURNEYS: tuple[Journey, ...] = (
    Journey(
        "profile",
        "Profile",
        "GET /api/users/<id>: auth verifies, user reads db",
        "GET",
        200,
        60,
        True,
        "GET /api/users/<user_id>",
    ),
    Journey(
        "dashboard",
        "Dashboard",
        "GET /api/dashboard: profile and activity fetched concurrently",
        "GET",
        200,
        25,
        True,
        "GET /api/dashboard",
    ),
    Journey(
        "login",
        "Log in",
        "POST /api/login: password hash check and token issue in auth",
        "POST",
        200,
        5,
        False,
        "POST /api/login",
    ),
    Journey(
        "bad_token",
        "Bad token",
        "a profile call with a forged token: 401 from auth",
        "GET",
        401,
        5,
        False,
        "GET /api/users/<user_id>",
    ),
    Journey(
        "not_found",
        "Not found",
        "a profile of a user that does not exist: 404, not an error",
        "GET",
        404,
        5,
        True,
        "GET /api/users/<user_id>",
    ),
)
BY_NAME: dict[str, Journey] = {journey.name: journey for journey in JOURNEYS}


def journey(name: str) -> Journey:
    """The journey called ``name``; ValueError naming the known ones otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown journey {name!r}; known: {', '.join(BY_NAME)}") from None
