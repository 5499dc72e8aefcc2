"""A typo in ``TRACELAB_SCENARIOS`` stops a real service at start-up with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from services.common.scenarios import SCENARIOS_ENV
from tests.service_process import ADMIN_TOKEN, AUTH_TOKEN_SECRET, ROOT
from tracelab.stack.ports import find_free_port

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", ["user", "auth"])  # aiohttp, and gunicorn before its fork
def test_an_unknown_scenario_name_refuses_to_start(service):
    env = {
        **os.environ,
        "PORT": str(find_free_port()),
        "TRACELAB_ADMIN_TOKEN": ADMIN_TOKEN,
        "AUTH_TOKEN_SECRET": AUTH_TOKEN_SECRET,
        "OTEL_SDK_DISABLED": "true",
        SCENARIOS_ENV: "slow-query,slow-qurey",
    }
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: TRACELAB_SCENARIOS names unknown scenario(s) 'slow-qurey'")
    assert "known: slow-query, n-plus-one" in last
    assert "Traceback" not in done.stderr
