"""Password checks on a bounded set of threads, sized from the memory budget."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.auth import hashing
from services.auth.hashing import HashingPool, slots_for
from services.common import deadline
from services.common.errors import ApiError
from tests.unit.db.fake_db import PASSWORD, PASSWORD_HASH


def test_slots_follow_the_memory_budget():
    assert slots_for(40) == 2  # 19 MiB per check
    assert slots_for(100) == 5
    assert slots_for(1) == 1  # at least one


def test_checks_run_on_at_most_slots_threads(monkeypatch):
    """Memory is bounded by the threads that ever hash, not by the request threads."""
    threads: set[str] = set()
    running = []
    lock = threading.Lock()

    def verify(password_hash, password):
        with lock:
            threads.add(threading.current_thread().name)
            running.append(1)
            assert len(running) <= 2
        time.sleep(0.01)
        with lock:
            running.pop()
        return True

    monkeypatch.setattr(hashing, "verify_password", verify)
    pool = HashingPool(slots=2, max_queued=16)
    with ThreadPoolExecutor(8) as requests:
        assert all(requests.map(lambda _: pool.verify("h", "p"), range(40)))
    assert len(threads) == 2


def test_a_real_check_still_answers():
    pool = HashingPool(slots=1, max_queued=1)
    assert pool.verify(PASSWORD_HASH, PASSWORD) is True
    assert pool.verify(PASSWORD_HASH, "wrong") is False


@pytest.mark.parametrize(
    ("max_queued", "least_s", "most_s"),
    [(0, 0.0, 0.05), (1, 0.09, 0.5)],
    ids=["no room to wait: at once", "waited its second"],
)
def test_a_login_that_finds_no_slot_in_time_is_503(monkeypatch, max_queued, least_s, most_s):
    release = threading.Event()
    monkeypatch.setattr(hashing, "verify_password", lambda *_: release.wait(5))
    monkeypatch.setattr(hashing, "MAX_WAIT_S", 0.1)
    pool = HashingPool(slots=1, max_queued=max_queued)
    with ThreadPoolExecutor(1) as other:
        busy = other.submit(pool.verify, "h", "p")
        time.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(ApiError) as info:
            pool.verify("h", "p")
        assert least_s <= time.monotonic() - started < most_s
        assert (info.value.status, info.value.code) == (503, "auth_busy")
        assert info.value.headers() == {"Retry-After": "1"}
        release.set()
        assert busy.result() is True


def test_a_login_whose_budget_runs_out_waiting_is_504(monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(hashing, "verify_password", lambda *_: release.wait(5))
    pool = HashingPool(slots=1, max_queued=4)
    with ThreadPoolExecutor(1) as other:
        other.submit(pool.verify, "h", "p")
        time.sleep(0.05)
        with deadline.budget(0.1), pytest.raises(ApiError) as info:
            pool.verify("h", "p")
        release.set()
    assert (info.value.status, info.value.code) == (504, "deadline_exceeded")
