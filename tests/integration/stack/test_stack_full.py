"""The whole local stack: infrastructure plus the five services."""

from __future__ import annotations

import time
import urllib.request

import pytest

from tracelab.stack.config import ALL_COMPONENTS, SERVICES

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("built_tools")]


def test_the_whole_stack_gets_ready_and_stops(stack):
    started = time.monotonic()
    info = stack.up(timeout=120)
    elapsed = time.monotonic() - started
    assert info.components == ALL_COMPONENTS
    for name in SERVICES:
        with urllib.request.urlopen(f"{info.url(name)}/readyz", timeout=5) as response:
            assert response.status == 200, name
    rows = stack.status()
    assert {row.name for row in rows} == set(ALL_COMPONENTS)
    assert all(row.alive and row.ready for row in rows)
    assert sorted(stack.down()) == sorted(ALL_COMPONENTS)
    assert stack.status() == []
    print(f"whole stack ready in {elapsed:.1f}s")
