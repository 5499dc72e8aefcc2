"""The open-loop generator's workload: the journeys of :mod:`tracelab.journeys`, request plans.

The Locust driver runs ``loadtest/locustfile.py``, whose tasks are the same
journeys with the same weights (both read :mod:`tracelab.journeys`).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from services.db.accounts import SEED_USER_COUNT, seed_email, seed_password
from tracelab.journeys import BAD_TOKEN, JOURNEYS, NOT_FOUND_USER_ID, SYNTHETIC_BAGGAGE, Journey

__all__ = ["BAD_TOKEN", "JOURNEYS", "NOT_FOUND_USER_ID", "SYNTHETIC_BAGGAGE", "Journey"]

JOURNEY_NAMES: tuple[str, ...] = tuple(j.name for j in JOURNEYS)
JOURNEY_WEIGHTS: dict[str, int] = {j.name: j.weight for j in JOURNEYS}


@dataclass(frozen=True)
class Account:
    """A logged-in seed user: its number (= user id) and bearer token."""

    number: int
    token: str


@dataclass(frozen=True)
class Request:
    """One HTTP request of a plan, ready to send."""

    journey: int
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, str] | None


def seed_credentials(number: int) -> tuple[str, str]:
    """The email and password of seed user ``number``."""
    return seed_email(number), seed_password(number)


def account_numbers(count: int, first: int = 1) -> list[int]:
    """``count`` distinct seed user numbers starting at ``first``."""
    if count < 1 or first < 1 or first + count - 1 > SEED_USER_COUNT:
        raise ValueError(f"seed users are 1..{SEED_USER_COUNT}; cannot take {count} from {first}")
    return list(range(first, first + count))


def build_request(journey: int, account: Account) -> Request:
    """The request of journey index ``journey`` made by ``account`` (with the baggage entry)."""
    planned = JOURNEYS[journey].request(account.number, account.token)
    headers = {"baggage": SYNTHETIC_BAGGAGE, **planned.headers}
    return Request(journey, planned.method, planned.path, headers, planned.body)


def arrival_offsets(
    rate: float, duration: float, seed: int, *, poisson: bool = True
) -> list[float]:
    """Send times in seconds from 0 for ``rate`` requests/s during ``duration`` seconds.

    Poisson arrivals (exponential gaps) by default, as independent users make;
    ``poisson=False`` gives evenly spaced sends. The same seed gives the same
    schedule, so every configuration of a round sees identical traffic.
    """
    if rate <= 0 or duration <= 0:
        raise ValueError("rate and duration must be positive")
    if not poisson:
        return [i / rate for i in range(int(rate * duration))]
    rng = random.Random(seed)
    offsets: list[float] = []
    t = rng.expovariate(rate)
    while t < duration:
        offsets.append(t)
        t += rng.expovariate(rate)
    return offsets


def stepped_arrival_offsets(
    rate: float,
    steps: Sequence[tuple[float, float]],
    duration: float,
    seed: int,
    *,
    poisson: bool = True,
) -> list[float]:
    """:func:`arrival_offsets` whose rate changes: ``rate`` until the first step.

    ``steps`` are ``(at_s, rate)`` pairs in time order: from ``at_s`` on,
    requests arrive at that rate (until the next step or ``duration``). Each
    segment has its own seeded schedule, so the same steps give the same sends.
    """
    times = [float(at) for at, _ in steps]
    if any(at < 0 for at in times) or any(b <= a for a, b in itertools.pairwise(times)):
        raise ValueError("rate steps must be at 0 s or later, in increasing time order")
    bounds = [(0.0, rate), *((float(at), float(r)) for at, r in steps)]
    offsets: list[float] = []
    for index, (start, segment_rate) in enumerate(bounds):
        end = bounds[index + 1][0] if index + 1 < len(bounds) else duration
        if end > start and segment_rate > 0:
            segment = arrival_offsets(segment_rate, end - start, seed + index, poisson=poisson)
            offsets += [start + offset for offset in segment]
    return offsets
