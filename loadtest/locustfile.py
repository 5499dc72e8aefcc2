"""tracelab load: the journeys of DESIGN.md section 3 as weighted Locust tasks.

Run it with ``make load`` (headless, CSV + HTML report in loadtest/output/)
or ``make load-ui`` (web UI on http://127.0.0.1:8089); ``make bench`` drives
its load with this file too (Locust in library mode, paced to a fixed rate:
tracelab/bench/locustdrive.py). The journeys, their weights, requests and
expected statuses are :mod:`tracelab.journeys`, their one definition; that
module needs the standard library only, so the Compose and Kubernetes Locust
containers run the official image with it mounted beside this file.

Every simulated user logs in once as a seed account (user0001..user1000),
then browses with think time: profile most, dashboard, an occasional
re-login, and a small share of requests with a bad token (401) or for a user
that does not exist (404). Requests are named ``<journey>: <root span>``
(``profile: GET /api/users/<user_id>``) and tagged with their journey
(``--tags profile dashboard``...).

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
import time
from collections.abc import Callable
from typing import Any, ClassVar

from locust import FastHttpUser, between, tag

from services.db.accounts import SEED_USER_COUNT
from tracelab.journeys import BY_NAME, JOURNEYS, SYNTHETIC_BAGGAGE, Journey

# A user that cannot log in (auth answers 503 when its password-hash slots are
# busy, as when many users start at once) retries, as a person's client would.
LOGIN_ATTEMPTS = 10

_numbers = itertools.count(random.randrange(SEED_USER_COUNT))
_numbers_lock = threading.Lock()


def next_account() -> int:
    """The next seed user number, cycling through 1..SEED_USER_COUNT."""
    with _numbers_lock:
        return next(_numbers) % SEED_USER_COUNT + 1


def _journey_task(journey: Journey) -> Callable[[TracelabUser], None]:
    def run(user: TracelabUser) -> None:
        user.journey(journey)

    run.__name__ = run.__qualname__ = journey.name
    run.__doc__ = journey.summary
    return tag(journey.name)(run)


class TracelabUser(FastHttpUser):
    """A person using the lab's frontend API."""

    wait_time = between(0.5, 2.0)
    # One task per journey, weighted as the catalogue says.
    tasks: ClassVar[dict[Callable[..., None], int]] = {_journey_task(j): j.weight for j in JOURNEYS}
    # Sent with every request, and added by journey() too, so a per-request
    # header set can never lose it.
    default_headers: ClassVar[dict[str, str]] = {"baggage": SYNTHETIC_BAGGAGE}

    number: int = 0
    token: str | None = None

    def on_start(self) -> None:
        """Pick a seed account and log in (after ``Retry-After`` while auth is busy)."""
        self.number = next_account()
        for _attempt in range(LOGIN_ATTEMPTS):
            response = self.journey(BY_NAME["login"])
            if self.token is not None or response.status_code != 503:
                return
            retry_after = response.headers.get("Retry-After") or "1"
            time.sleep(float(retry_after) * (0.5 + random.random()))

    def journey(self, journey: Journey) -> Any:
        """Send ``journey``'s request; success means its expected status.

        A login keeps the token; a 401 where the token should work logs in again.
        """
        if journey.needs_token and self.token is None:
            self.journey(BY_NAME["login"])
            if self.token is None:
                return None
        planned = journey.request(self.number, self.token)
        with self.client.request(
            planned.method,
            planned.path,
            json=planned.body,
            headers={"baggage": SYNTHETIC_BAGGAGE, **planned.headers},
            name=journey.request_name,
            catch_response=True,
        ) as response:
            if response.status_code == journey.expected_status:
                response.success()
            else:
                response.failure(f"expected {journey.expected_status}, got {response.status_code}")
        if journey.name == "login" and response.status_code == journey.expected_status:
            self.token = response.json()["token"]
        elif journey.needs_token and response.status_code == 401:
            self.token = None
            self.journey(BY_NAME["login"])
        return response
