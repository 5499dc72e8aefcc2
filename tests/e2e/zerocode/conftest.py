"""The e2e journeys on a private stack whose five services run under ``opentelemetry-instrument``.

The stack has its own run directory (``.run/e2e-zero-code``) and free ports (as the benchmark's:
docs/benchmark.md "A private stack"), so it runs beside the tier's own.
``TRACELAB_ZERO_CODE_EXTRA_ENV`` (``KEY=VALUE,...``) adds to the services'
environment, e.g. ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=psycopg`` to see
a journey lose its shape.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common import launch
from tests.e2e import conftest as tier
from tests.e2e import journeys

pytestmark = pytest.mark.e2e

EXTRA_ENV_VAR = "TRACELAB_ZERO_CODE_EXTRA_ENV"

# The tier's fixtures again, registered here so they read this directory's stack.
frontend_url = journeys.frontend_url
login = journeys.login
backends = tier.backends


@pytest.fixture(scope="session")
def stack() -> Iterator[object]:
    """A private zero-code stack, started here and stopped after the tests."""
    from tracelab.stack import Stack
    from tracelab.stack.config import INFRA, SERVICES, free_port_env

    extra = dict(
        item.split("=", 1) for item in os.environ.get(EXTRA_ENV_VAR, "").split(",") if item
    )
    root = Path(__file__).resolve().parents[3]
    # In the checkout's .run like the benchmark's: PostgreSQL's user must reach it.
    private = Stack(root, run_dir=root / ".run" / "e2e-zero-code", env=free_port_env())
    try:
        # The journeys need the services, the collector and Jaeger (no console).
        yield private.up(
            timeout=180,
            components=(*INFRA, *SERVICES),
            extra_env={launch.MODE_VAR: launch.ZERO_CODE, **extra},
        )
    finally:
        private.down()
