"""auth's memory stays bounded under bursts of concurrent logins.

A fresh auth process (beside the stack, on the stack's db service) takes ten
bursts of 16 simultaneous logins, twice its threads, so every request thread
has a password to check at once (a long queue wait keeps load shedding out of
a test about memory). Its worker's RSS may grow by the password-hashing
budget (``AUTH_HASH_MEMORY_MIB``, 40 MiB by default: two 19 MiB argon2
checks at once) and a little more, then stays flat. Before the bound it grew
by 154 MiB (one check's memory kept per request thread) and stayed there.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests

from tests.service_process import running_service
from tracelab.bench.workload import seed_credentials

pytestmark = pytest.mark.resilience

BURSTS = 10
BURST_SIZE = 16
HASH_BUDGET_MIB = 40
HEADROOM_MIB = 20
DRIFT_MIB = 6


def _worker_rss_mib(master_pid: int) -> float:
    (worker,) = psutil.Process(master_pid).children()
    return worker.memory_info().rss / 2**20


def test_auth_memory_is_bounded_over_login_bursts(stack, results_dir, tmp_path):
    env = {"DB_SERVICE_URL": stack.urls["db"], "MAX_QUEUE_WAIT_MS": "20000"}
    with running_service("auth", tmp_path, env) as auth:
        idle = _worker_rss_mib(auth.process.pid)

        def login(number: int) -> int:
            email, password = seed_credentials(number)
            body = {"email": email, "password": password}
            return requests.post(f"{auth.url}/login", json=body, timeout=30).status_code

        after_burst = []
        with ThreadPoolExecutor(BURST_SIZE) as pool:
            for burst in range(BURSTS):
                first = 1 + burst * BURST_SIZE
                statuses = list(pool.map(login, range(first, first + BURST_SIZE)))
                assert statuses == [200] * BURST_SIZE
                after_burst.append(_worker_rss_mib(auth.process.pid))

    figures = {
        "bursts": BURSTS,
        "burst_size": BURST_SIZE,
        "idle_rss_mib": round(idle, 1),
        "rss_after_each_burst_mib": [round(rss, 1) for rss in after_burst],
        "growth_mib": round(after_burst[-1] - idle, 1),
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "auth-login-bursts.json").write_text(json.dumps(figures, indent=2) + "\n")
    assert after_burst[-1] - idle <= HASH_BUDGET_MIB + HEADROOM_MIB, figures
    assert after_burst[-1] - after_burst[1] <= DRIFT_MIB, figures
