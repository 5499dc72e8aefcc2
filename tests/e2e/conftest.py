"""The e2e tier: the whole local stack with the real Collector and Jaeger.

The session starts the stack (or reuses one a developer already has up) and
stops what it started. Journeys go through the frontend over real HTTP; the
traces are fetched back from the tracing backends the stack runs.
"""

from __future__ import annotations

import pytest

from tests.e2e import journeys
from tracelab.shapes.backends import JaegerClient

pytestmark = pytest.mark.e2e

# Fixtures shared with the browser and resilience tiers, registered by name here.
stack = journeys.stack
frontend_url = journeys.frontend_url
http = journeys.http
login = journeys.login
untraced_test_client = journeys.untraced_test_client  # autouse


@pytest.fixture(scope="session")
def backends(stack) -> dict[str, object]:
    """Every tracing backend this stack runs, by name (local mode: Jaeger)."""
    clients: dict[str, object] = {"jaeger": JaegerClient(stack.urls["jaeger"])}
    if "tempo" in stack.urls:
        from tracelab.shapes.backends import TempoClient

        clients["tempo"] = TempoClient(stack.urls["tempo"])
    return clients
