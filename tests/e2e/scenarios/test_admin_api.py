"""The admin API on the real services: token protected, untraced, per-service state."""

from __future__ import annotations

import time

import pytest

from services.common.admin import SCENARIOS_PATH, TOKEN_HEADER
from services.common.faults import SCENARIO_OWNERS
from tracelab.shapes.backends import JaegerClient
from tracelab.shapes.query import TraceQuery
from tracelab.stack.config import SERVICES

pytestmark = pytest.mark.e2e


OWNERS = [name for name in SERVICES if name in SCENARIO_OWNERS]


def test_the_public_frontend_serves_no_admin_api(stack, http):
    headers = {TOKEN_HEADER: stack.admin_token}
    for method in ("GET", "PUT", "DELETE"):
        url = stack.urls["frontend"] + SCENARIOS_PATH + "/flaky-auth"
        answer = http.request(method, url, headers=headers, timeout=5)
        assert answer.status_code == 404, (method, answer.text)
    assert "frontend" not in OWNERS and len(OWNERS) == 4


@pytest.mark.parametrize("service", OWNERS)
def test_admin_api_refuses_callers_without_the_token(service, stack, http):
    url = stack.urls[service] + SCENARIOS_PATH + "/flaky-auth"
    missing = http.put(url, timeout=5)
    wrong = http.put(url, headers={TOKEN_HEADER: "guess"}, timeout=5)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "admin_token_missing"
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "admin_token_invalid"


def test_admin_calls_make_no_spans(stack, http):
    headers = {TOKEN_HEADER: stack.admin_token}
    before = time.time()
    for service in OWNERS:
        response = http.get(stack.urls[service] + SCENARIOS_PATH, headers=headers, timeout=5)
        assert response.status_code == 200
        assert response.json()["service"] == service
    time.sleep(6)  # longer than the services' batch export interval
    with JaegerClient(stack.urls["jaeger"]) as jaeger:
        for service in OWNERS:
            query = TraceQuery(service=service, start=before - 1, end=time.time(), limit=500)
            names = {span.name for trace in jaeger.find_traces(query) for span in trace}
            assert not {n for n in names if "admin" in n}, names
