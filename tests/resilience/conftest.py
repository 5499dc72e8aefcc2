"""The resilience tier: bounded faults against the whole local stack, measured.

Each test runs an open-loop load (``tests/resilience/measure.py``) through
the frontend, injects one fault for a fixed window, asserts the figures of
tracelab issue 10 (failures by status, latency per phase, recovery time) and
writes them as JSON under ``results/resilience/``. Loopback only, loads of a
few hundred requests per second at most, a few tens of seconds per test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e import journeys
from tests.resilience.measure import Fault
from tracelab.bench.runner import login_accounts
from tracelab.stack import config as stack_config
from tracelab.stack.postgres import PostgresCluster, find_pg_binaries

pytestmark = pytest.mark.resilience

stack = journeys.stack
frontend_url = journeys.frontend_url
untraced_test_client = journeys.untraced_test_client  # autouse

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_COUNT = 20


@pytest.fixture(scope="session")
def accounts(frontend_url) -> list[tuple[int, str]]:
    """Seed users logged in through the frontend: (user id, token) for the load generator."""
    return login_accounts(frontend_url, list(range(1, ACCOUNT_COUNT + 1)))


@pytest.fixture(scope="session")
def results_dir() -> Path:
    """Where each test writes its figures (``results/`` is ignored by git)."""
    return ROOT / "results" / "resilience"


@pytest.fixture
def postgres_outage(stack) -> Iterator[Callable[[], Fault]]:
    """A fault that stops the stack's PostgreSQL (``pg_ctl stop -m fast``) and starts it again.

    The fault's ``stop`` returns once ``pg_ctl start -w`` saw the server accept
    connections. The fixture makes sure the server runs again afterwards.
    """
    cluster = PostgresCluster(
        stack.run_dir / "pg",
        stack.run_dir / "logs" / f"{stack_config.POSTGRES}.log",
        find_pg_binaries(),
    )
    port = stack.ports["postgres"]

    def start_again() -> None:
        if cluster.postmaster() is not None:
            return
        starting = cluster.start(port, wait_timeout=30)
        assert starting.wait(timeout=40) == 0, "PostgreSQL did not start again"

    def outage() -> Fault:
        return Fault("postgres-stopped", start=lambda: cluster.stop(timeout=10), stop=start_again)

    yield outage
    start_again()
