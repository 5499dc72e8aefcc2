"""A scenario switched through one gunicorn worker is on in all of them (WEB_CONCURRENCY > 1)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from services.common import admin
from tests.service_process import ADMIN_TOKEN

pytestmark = pytest.mark.integration

WORKERS = 3
REQUESTS = 30


def _verify_at_once(url: str) -> list[int]:
    """REQUESTS verifications on fresh connections, all at the same moment.

    Sent one after the other they would mostly reach the same worker (the
    one awake); sent together, the workers share them.
    """
    barrier = threading.Barrier(REQUESTS)

    def verify(_: int) -> int:
        barrier.wait()
        response = requests.post(
            f"{url}/verify",
            headers={"Authorization": "Bearer not-a-token", "Connection": "close"},
            timeout=10,
        )
        return response.status_code

    with ThreadPoolExecutor(REQUESTS) as pool:
        return list(pool.map(verify, range(REQUESTS)))


def test_flaky_auth_reaches_every_worker(serve):
    auth = serve("auth", {"WEB_CONCURRENCY": str(WORKERS), "DB_SERVICE_URL": "http://127.0.0.1:1"})
    headers = {admin.TOKEN_HEADER: ADMIN_TOKEN}
    url = f"{auth.url}{admin.SCENARIOS_PATH}/flaky-auth"
    switched = requests.put(url, json={"params": {"rate": 1.0}}, headers=headers, timeout=10)
    assert switched.status_code == 200
    try:
        # Every verification now fails inside auth (503), whichever worker answers.
        assert _verify_at_once(auth.url) == [503] * REQUESTS
    finally:
        assert requests.delete(url, headers=headers, timeout=10).status_code == 200
    # Off everywhere too: only the bad token is left.
    assert _verify_at_once(auth.url) == [401] * REQUESTS
