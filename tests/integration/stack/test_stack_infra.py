"""The collector and Jaeger as real processes: readiness, a span end to end, clean down."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request

import psutil
import pytest

from tracelab.shapes.backends import JaegerClient
from tracelab.stack import ComponentFailedError, PortInUseError, Stack
from tracelab.stack.config import COLLECTOR, INFRA, JAEGER
from tracelab.stack.ports import is_port_free
from tracelab.stack.state import load_state

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("built_tools")]


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def _post_span(otlp_http: str, service: str, trace_id: str) -> None:
    now = time.time_ns()
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": "00f067aa0ba902b7",
                                "name": "GET /probe",
                                "kind": 2,
                                "startTimeUnixNano": str(now - 1_000_000),
                                "endTimeUnixNano": str(now),
                            }
                        ]
                    }
                ],
            }
        ]
    }
    request = urllib.request.Request(
        f"{otlp_http}/v1/traces",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def _group_processes(pids: list[int]) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) in pids and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def test_infra_up_carries_a_span_to_jaeger_and_down_leaves_nothing(stack):
    started = time.monotonic()
    info = stack.up(components=INFRA, bootstrap=False, timeout=60)
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"infra took {elapsed:.1f}s to get ready"
    assert info.components == INFRA

    for label in ("collector_health", "jaeger_health", "collector_metrics", "jaeger_metrics"):
        assert _get(info.url(label))[0] == 200, label
    jaeger = JaegerClient(info.jaeger_query_url)
    assert jaeger.services() == []  # Jaeger does not trace itself into the lab

    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    _post_span(info.otlp_http_endpoint, "stack-it-probe", trace_id)
    trace = jaeger.wait_for_trace(trace_id, timeout=20, interval=0.2)
    assert [span.name for span in trace] == ["GET /probe"]
    assert trace.services == {"stack-it-probe"}

    assert stack.is_ready()
    rows = {row.name: row for row in stack.status()}
    assert set(rows) == set(INFRA)
    assert all(row.alive and row.ready for row in rows.values())
    pids = [rows[COLLECTOR].pid, rows[JAEGER].pid]
    assert len(_group_processes(pids)) >= 2

    assert sorted(stack.down()) == sorted(INFRA)
    assert _group_processes(pids) == []
    assert load_state(stack.run_dir) is None
    assert not stack.is_ready()
    assert is_port_free(info.ports["collector_otlp_http"])  # a server could listen again


def test_up_on_a_healthy_stack_reports_it_and_keeps_the_processes(stack):
    first = stack.up(components=[COLLECTOR, JAEGER], timeout=60)
    pids = {row.name: row.pid for row in stack.status()}
    again = stack.up(components=[COLLECTOR, JAEGER], timeout=60)
    assert again.already_running and not first.already_running
    assert {row.name: row.pid for row in stack.status()} == pids


def test_a_component_that_dies_while_starting_fails_fast_and_is_cleaned_up(run_dir, port_env):
    env = {**port_env, "JAEGER_MAX_TRACES": "not-a-number"}
    stack = Stack(run_dir=run_dir, env=env)
    started = time.monotonic()
    with pytest.raises(ComponentFailedError) as caught:
        stack.up(components=[COLLECTOR, JAEGER], timeout=60)
    assert time.monotonic() - started < 15
    error = caught.value
    assert error.component == JAEGER
    assert str(error).startswith("jaeger exited with code ")
    assert str(error).endswith(f"see {run_dir / 'logs' / 'jaeger.log'}")
    assert "max_traces" in error.tail
    # The collector that did start was stopped again.
    assert load_state(run_dir) is None
    assert is_port_free(int(port_env["OTELCOL_HEALTH_PORT"]))


def test_a_port_in_use_is_reported_before_anything_starts(stack, port_env):
    port = int(port_env["JAEGER_QUERY_PORT"])
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(PortInUseError) as caught:
            stack.up(components=INFRA, timeout=30)
    assert f"{port} (jaeger UI/query API; set JAEGER_QUERY_PORT" in str(caught.value)
    assert load_state(stack.run_dir) is None
    assert not (stack.pg_data_dir / "postmaster.pid").exists()
