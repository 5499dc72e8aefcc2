"""The database watch: down after a failed probe, failing fast, up again after one that works."""

from __future__ import annotations

import time

import pytest

from services.common.errors import ApiError
from services.db.availability import DatabaseWatch


class Database:
    """A probe target that is up or down, counting the probes."""

    def __init__(self) -> None:
        self.up = True
        self.probes = 0
        self.checked_after_outage = False

    def check_pool(self) -> None:
        self.checked_after_outage = True

    def probe(self) -> bool:
        self.probes += 1
        if not self.up:
            raise OSError("connection refused")
        return True


def _wait(condition, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_a_suspicion_while_the_database_works_changes_nothing():
    db = Database()
    watch = DatabaseWatch(db.probe, on_recovered=db.check_pool, interval_s=0.02)
    watch.suspect()
    _wait(lambda: db.probes >= 1)
    watch.check_available()
    assert not watch.down and not db.checked_after_outage


def test_down_fails_fast_and_up_again_within_an_interval():
    db = Database()
    watch = DatabaseWatch(db.probe, on_recovered=db.check_pool, interval_s=0.05)
    db.up = False
    watch.suspect()
    _wait(lambda: watch.down)
    started = time.monotonic()
    with pytest.raises(ApiError) as info:
        watch.check_available()
    assert time.monotonic() - started < 0.01
    assert (info.value.status, info.value.code) == (503, "database_unavailable")
    assert info.value.headers() == {"Retry-After": "1"}
    probes = db.probes
    _wait(lambda: db.probes >= probes + 2)  # still probing while down
    db.up = True
    back = time.monotonic()
    _wait(lambda: not watch.down)
    assert time.monotonic() - back < 0.5
    assert db.checked_after_outage, "the pool's connections were not checked after the outage"
    watch.check_available()
