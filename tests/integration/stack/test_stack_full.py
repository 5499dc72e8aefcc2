"""The whole local stack: infrastructure plus the five services."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest

from tracelab.stack import Stack
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


def test_a_new_extra_env_restarts_only_the_services(stack):
    stack.up(timeout=120)
    before = {row.name: row.pid for row in stack.status()}
    info = stack.up(timeout=120, extra_env={"TRACELAB_IT_MARKER": "second"})
    after = {row.name: row.pid for row in stack.status()}
    assert not info.already_running
    for name in ALL_COMPONENTS:
        if name in SERVICES:
            assert after[name] != before[name], f"{name} kept its process"
            environ = Path(f"/proc/{after[name]}/environ").read_bytes().split(b"\0")
            assert b"TRACELAB_IT_MARKER=second" in environ, name
        else:
            assert after[name] == before[name], f"{name} was restarted"
    assert stack.is_ready()
    again = stack.up(timeout=120, extra_env={"TRACELAB_IT_MARKER": "second"})
    assert again.already_running
    assert {row.name: row.pid for row in stack.status()} == after


def test_a_new_collector_setting_restarts_the_infrastructure_too(stack):
    stack.up(timeout=120)
    before = {row.name: row.pid for row in stack.status()}
    changed = Stack(
        stack.root, run_dir=stack.run_dir, env={**stack.environ, "JAEGER_MAX_TRACES": "500"}
    )
    changed.up(timeout=120)
    after = {row.name: row.pid for row in changed.status()}
    assert after["jaeger"] != before["jaeger"]
    assert after["otel-collector"] != before["otel-collector"]
    assert changed.is_ready()
