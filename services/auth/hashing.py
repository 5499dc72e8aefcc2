"""Password checks on a few threads of their own, as many as the memory budget allows.

An argon2id check allocates its memory cost (19 MiB for the seed's hashes)
for its duration. Run on gunicorn's request threads, concurrent logins add
that up per thread, and glibc keeps what each thread freed in that thread's
malloc arena: auth's worker grew from 58 to 212 MiB over login bursts and
stayed there, and a semaphore of 2 around the checks changed nothing (the
memory stays with every thread that ever hashed). Here the checks run on
``slots`` dedicated threads, ``slots`` being ``AUTH_HASH_MEMORY_MIB``
divided by the memory cost, so at most that much memory is ever used, and
kept, for hashing (measured: 59 -> 99 MiB). A login waits for a slot as long
as its budget allows (``MAX_WAIT_S`` without one) and gets ``504`` when the
budget ran out first; past ``max_queued`` waiting logins it gets ``503
auth_busy`` (``Retry-After``) at once.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures

from opentelemetry import trace

from services.auth.passwords import MEMORY_COST_KIB, verify_password
from services.common import deadline
from services.common.errors import ApiError

MAX_WAIT_S = 3.0
WAIT_ATTRIBUTE = "tracelab.hash.wait_ms"


def slots_for(memory_budget_mib: int, memory_cost_kib: int = MEMORY_COST_KIB) -> int:
    """How many checks fit in ``memory_budget_mib`` at once (at least one)."""
    return max(1, memory_budget_mib * 1024 // memory_cost_kib)


def busy() -> ApiError:
    """The 503 of a login that found no hashing slot in time."""
    return ApiError(503, "auth_busy", "too many logins at once: try again shortly")


class HashingPool:
    """``slots`` hashing threads and at most ``max_queued`` logins waiting for one."""

    def __init__(self, slots: int, max_queued: int) -> None:
        self.slots = slots
        self.max_queued = max_queued
        self._executor = futures.ThreadPoolExecutor(slots, thread_name_prefix="tracelab-hash")
        self._pending = 0
        self._lock = threading.Lock()

    def _release(self, _future: futures.Future[bool]) -> None:
        with self._lock:
            self._pending -= 1

    def verify(self, password_hash: str | None, password: str) -> bool:
        """:func:`services.auth.passwords.verify_password` on a hashing thread."""
        with self._lock:
            if self._pending >= self.slots + self.max_queued:
                raise busy()
            self._pending += 1
        submitted = time.monotonic()
        started = threading.Event()

        def check() -> bool:
            started.set()
            return verify_password(password_hash, password)

        future = self._executor.submit(check)
        future.add_done_callback(self._release)
        if not started.wait(timeout=deadline.cap(MAX_WAIT_S)) and future.cancel():
            deadline.check("while the login waited for a hashing slot")
            raise busy()
        trace.get_current_span().set_attribute(
            WAIT_ATTRIBUTE, round((time.monotonic() - submitted) * 1000, 1)
        )
        # Once it runs, a check is not abandoned half-way: it takes tens of ms.
        return future.result()
