"""Argon2id password verification."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from services.db.seed import ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, ARGON2_TIME_COST

# The seed's parameters (OWASP minimum); verify() reads each hash's own.
MEMORY_COST_KIB = ARGON2_MEMORY_KIB
_HASHER = PasswordHasher(
    time_cost=ARGON2_TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=ARGON2_PARALLELISM
)


@cache
def _decoy_hash() -> str:
    # Checked when the email is unknown, so both failures take the same time
    # and response timing does not tell which emails exist.
    return _HASHER.hash("tracelab-decoy-password")


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; None checks a decoy and fails.

    A malformed stored hash raises (argon2's InvalidHashError): that is a
    server fault, not a wrong password.
    """
    if password_hash is None:
        _verify(_decoy_hash(), password)
        return False
    return _verify(password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except VerifyMismatchError:
        return False
