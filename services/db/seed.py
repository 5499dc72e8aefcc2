"""The deterministic seed: 1000 users with known passwords and 20 activity rows each.

Tests and load tests use :func:`seed_user` and :func:`seed_password`;
``python -m services.db.seed > infra/postgres/seed.sql`` regenerates the
committed SQL file. Password hashes are argon2id with a salt derived from
the user number, so the file is byte-for-byte reproducible and
``make up`` never spends time hashing 1000 passwords.
"""

from __future__ import annotations

import hashlib
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2.low_level import Type, hash_secret

from services.db.accounts import SEED_USER_COUNT, seed_email, seed_password
from services.db.accounts import check_number as _check_number

SEED_ACTIVITY_PER_USER = 20
SEED_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

# OWASP's minimum for argon2id: 19 MiB of memory, 2 iterations, 1 lane.
ARGON2_MEMORY_KIB = 19456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
ARGON2_HASH_LEN = 32
ARGON2_SALT_LEN = 16

FIRST_NAMES = (
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Kira", "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sami", "Tara",
)  # fmt: skip
LAST_NAMES = (
    "Abbott", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Horvat", "Ito",
    "Jansen", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Petrov", "Quist", "Rossi",
    "Silva", "Tanaka",
)  # fmt: skip
# Activity kinds and their details; the SQL generator indexes the same tuples.
ACTIVITY_KINDS = ("login", "view_profile", "update_settings", "view_dashboard", "logout")
ACTIVITY_DETAILS = (
    "signed in",
    "viewed a profile",
    "changed settings",
    "opened the dashboard",
    "signed out",
)


@dataclass(frozen=True)
class SeedUser:
    """One seed user as stored (the id equals the seed number ``n``)."""

    id: int
    email: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class SeedActivity:
    """One seed activity row."""

    id: int
    user_id: int
    kind: str
    detail: str
    created_at: datetime


def seed_user(n: int) -> SeedUser:
    """Seed user number ``n`` (1..SEED_USER_COUNT)."""
    _check_number(n)
    first = FIRST_NAMES[(n - 1) % len(FIRST_NAMES)]
    last = LAST_NAMES[((n - 1) // len(FIRST_NAMES)) % len(LAST_NAMES)]
    return SeedUser(
        id=n,
        email=seed_email(n),
        name=f"{first} {last}",
        created_at=SEED_EPOCH + timedelta(minutes=n),
    )


def seed_salt(n: int) -> bytes:
    """The fixed argon2 salt of seed user ``n`` (keeps seed.sql reproducible)."""
    _check_number(n)
    return hashlib.sha256(f"tracelab-seed-salt:{n}".encode()).digest()[:ARGON2_SALT_LEN]


def seed_password_hash(n: int) -> str:
    """The argon2id hash of seed user ``n``'s password, in PHC string format."""
    return hash_secret(
        seed_password(n).encode(),
        seed_salt(n),
        time_cost=ARGON2_TIME_COST,
        memory_cost=ARGON2_MEMORY_KIB,
        parallelism=ARGON2_PARALLELISM,
        hash_len=ARGON2_HASH_LEN,
        type=Type.ID,
    ).decode("ascii")


def seed_activity(n: int) -> list[SeedActivity]:
    """The activity rows of seed user ``n``, oldest first (as :func:`activity_sql` makes them)."""
    _check_number(n)
    rows = []
    for g in range(1, SEED_ACTIVITY_PER_USER + 1):
        k = (n + g) % len(ACTIVITY_KINDS)
        rows.append(
            SeedActivity(
                id=(n - 1) * SEED_ACTIVITY_PER_USER + g,
                user_id=n,
                kind=ACTIVITY_KINDS[k],
                detail=f"{ACTIVITY_DETAILS[k]} (#{g})",
                created_at=SEED_EPOCH + timedelta(minutes=n, hours=g),
            )
        )
    return rows


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _array(values: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(_literal(v) for v in values) + "]"


def user_row_sql(n: int) -> str:
    """The ``VALUES`` row of seed user ``n`` as it appears in seed.sql."""
    user = seed_user(n)
    values = (
        str(user.id),
        _literal(user.email),
        _literal(user.name),
        _literal(seed_password_hash(n)),
        _literal(user.created_at.isoformat()),
    )
    return "    (" + ", ".join(values) + ")"


def activity_sql(count: int = SEED_USER_COUNT) -> str:
    """The statement that generates every seed user's activity (mirrors :func:`seed_activity`)."""
    per_user = SEED_ACTIVITY_PER_USER
    pick = f"1 + (n + g) % {len(ACTIVITY_KINDS)}"
    return (
        "INSERT INTO activity (id, user_id, kind, detail, created_at)\n"
        f"SELECT (n - 1) * {per_user} + g,\n"
        "       n,\n"
        f"       ({_array(ACTIVITY_KINDS)})[{pick}],\n"
        f"       format('%s (#%s)', ({_array(ACTIVITY_DETAILS)})[{pick}], g),\n"
        f"       timestamptz {_literal(SEED_EPOCH.isoformat())}"
        " + make_interval(hours => g, mins => n)\n"
        f"FROM generate_series(1, {count}) AS n, generate_series(1, {per_user}) AS g\n"
        "ON CONFLICT DO NOTHING;\n"
    )


def render_seed_sql(count: int = SEED_USER_COUNT) -> str:
    """The whole seed.sql text for users 1..``count`` (idempotent plain SQL)."""
    with ThreadPoolExecutor() as pool:  # argon2 releases the GIL
        rows = list(pool.map(user_row_sql, range(1, count + 1)))
    return (
        "-- The tracelab seed, generated by\n"
        "--   python -m services.db.seed > infra/postgres/seed.sql\n"
        "-- Do not edit by hand. Idempotent: safe to apply again.\n"
        "\n"
        "INSERT INTO users (id, email, name, password_hash, created_at) VALUES\n"
        + ",\n".join(rows)
        + "\nON CONFLICT DO NOTHING;\n"
        "\n" + activity_sql(count) + "\n"
        "-- Explicit ids above: move the identity sequences past them.\n"
        "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users));\n"
        "SELECT setval(pg_get_serial_sequence('activity', 'id'), (SELECT max(id) FROM activity));\n"
    )


def main() -> None:
    """Write seed.sql to standard output."""
    sys.stdout.write(render_seed_sql())


if __name__ == "__main__":
    main()
