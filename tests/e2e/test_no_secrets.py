"""No seed password or issued token ever reaches a span or a log line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from services.db.seed import seed_password
from tests.e2e.journeys import trace_id_of
from tracelab.shapes.backends import JaegerClient
from tracelab.shapes.query import TraceQuery

pytestmark = pytest.mark.e2e

SERVICES = ("frontend", "gateway", "auth", "user", "db")


def _all_exported_spans(jaeger_url: str) -> str:
    """Every span Jaeger holds for our services (attributes, events, resources), as text."""
    chunks = []
    with JaegerClient(jaeger_url, timeout=30) as jaeger:
        for service in SERVICES:
            query = TraceQuery(
                service=service, start=time.time() - 7200, end=time.time(), limit=1000
            )
            traces = jaeger.find_traces(query)
            assert traces, f"Jaeger holds no trace of {service}"
            for trace in traces:
                for span in trace:
                    chunks.append(
                        json.dumps(
                            [
                                span.name,
                                span.status_message,
                                span.attributes,
                                [(e.name, e.attributes) for e in span.events],
                                span.resource,
                            ],
                            default=str,
                        )
                    )
    return "\n".join(chunks)


def test_no_secret_in_spans_or_logs(http, frontend_url, login, stack):
    users = [login(n) for n in range(20, 30)]
    for user in users:
        http.get(f"{frontend_url}/api/dashboard", headers=user.headers, timeout=10)
        http.get(f"{frontend_url}/api/users/{user.user_id}", headers=user.headers, timeout=10)
    secrets = [seed_password(n) for n in range(20, 30)]
    secrets += [user.token for user in users]
    # The signature part alone is enough to forge nothing, but must not leak either.
    secrets += [user.token.rsplit(".", 1)[-1] for user in users]

    # The batch processors flush within a second; wait until the last trace is in.
    last = http.get(f"{frontend_url}/api/dashboard", headers=users[-1].headers, timeout=10)
    JaegerClient(stack.urls["jaeger"]).wait_for_trace(
        trace_id_of(last), services=SERVICES, timeout=30
    )

    spans_text = _all_exported_spans(stack.urls["jaeger"])
    logs = {
        path.name: path.read_text(errors="replace") for path in Path(stack.log_dir).glob("*.log")
    }
    assert logs, "the stack wrote no logs"
    for secret in secrets:
        assert secret not in spans_text, "a secret was exported in a span"
        for name, text in logs.items():
            assert secret not in text, f"a secret was written to {name}"
