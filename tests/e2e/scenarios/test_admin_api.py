"""The admin API on the real services: token protected, untraced, per-service state."""

from __future__ import annotations

import time

import pytest
import requests

from services.common.admin import SCENARIOS_PATH, TOKEN_HEADER, admin_token
from tracelab.stack.config import SERVICES

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("service", SERVICES)
def test_admin_api_refuses_callers_without_the_token(service, stack, http):
    url = stack.urls[service] + SCENARIOS_PATH + "/flaky-auth"
    missing = http.put(url, timeout=5)
    wrong = http.put(url, headers={TOKEN_HEADER: "guess"}, timeout=5)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "admin_token_missing"
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "admin_token_invalid"


def test_admin_calls_make_no_spans(stack, http):
    headers = {TOKEN_HEADER: admin_token()}
    before = time.time()
    for service in SERVICES:
        response = http.get(stack.urls[service] + SCENARIOS_PATH, headers=headers, timeout=5)
        assert response.status_code == 200
        assert response.json()["service"] == service
    time.sleep(6)  # longer than the services' batch export interval
    params = {
        "service": "frontend",
        "start": int((before - 1) * 1e6),
        "end": int(time.time() * 1e6),
        "limit": 500,
    }
    for service in SERVICES:
        params["service"] = service
        answer = requests.get(stack.urls["jaeger"] + "/api/traces", params=params, timeout=10)
        names = {s["operationName"] for t in answer.json()["data"] or [] for s in t["spans"]}
        assert not {n for n in names if "admin" in n}, names
