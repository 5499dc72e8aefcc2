"""The seed accounts' sign-in: how many there are, their email and password.

The standard library only: besides :mod:`services.db.seed`, the journeys
(:mod:`tracelab.journeys`) use it, and the Compose and Kubernetes Locust
containers get this file mounted beside the locustfile.
"""

from __future__ import annotations

SEED_USER_COUNT = 1000


def check_number(n: int) -> None:
    """ValueError unless ``n`` is a seed user number (1..SEED_USER_COUNT)."""
    if not 1 <= n <= SEED_USER_COUNT:
        raise ValueError(f"seed users are numbered 1..{SEED_USER_COUNT}, got {n}")


def seed_email(n: int) -> str:
    """The email of seed user ``n``."""
    check_number(n)
    return f"user{n:04d}@tracelab.test"


def seed_password(n: int) -> str:
    """The plain password of seed user ``n``."""
    check_number(n)
    return f"tracelab-pass-{n:04d}"
