"""The deterministic seed's Python side (the SQL side is checked in tests/integration)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from argon2 import PasswordHasher

from services.db.seed import (
    ACTIVITY_KINDS,
    SEED_ACTIVITY_PER_USER,
    SEED_USER_COUNT,
    seed_activity,
    seed_password,
    seed_password_hash,
    seed_salt,
    seed_user,
    user_row_sql,
)


def test_seed_users_follow_the_documented_pattern():
    assert SEED_USER_COUNT == 1000
    first, last = seed_user(1), seed_user(SEED_USER_COUNT)
    assert (first.id, first.email) == (1, "user0001@tracelab.test")
    assert (last.id, last.email) == (1000, "user1000@tracelab.test")
    assert seed_password(42) == "tracelab-pass-0042"
    assert first.name and first.name != seed_user(2).name
    assert first.created_at < last.created_at


@pytest.mark.parametrize("n", [0, -1, SEED_USER_COUNT + 1])
def test_numbers_outside_the_seed_are_refused(n):
    for make in (seed_user, seed_password, seed_activity):
        with pytest.raises(ValueError, match=r"1\.\.1000"):
            make(n)


def test_hashes_are_owasp_argon2id_with_a_fixed_salt():
    digest = seed_password_hash(3)
    assert digest.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert digest == seed_password_hash(3), "the same salt gives the same hash"
    assert seed_salt(3) != seed_salt(4)
    assert PasswordHasher().verify(digest, seed_password(3))
    assert seed_password(3) not in user_row_sql(3)


def test_activity_is_deterministic_and_distinct_per_user():
    rows = seed_activity(8)
    assert len(rows) == SEED_ACTIVITY_PER_USER
    assert rows == seed_activity(8)
    assert [r.id for r in rows] == list(range(141, 161))
    assert {r.user_id for r in rows} == {8}
    assert {r.kind for r in rows} == set(ACTIVITY_KINDS)
    assert all(a.created_at < b.created_at for a, b in pairwise(rows))
    assert {r.id for r in seed_activity(9)}.isdisjoint(r.id for r in rows)
