"""What the console's API tests share: the recorded Jaeger answer, requests, error checks."""

from __future__ import annotations

import json
import socket
from pathlib import Path

RECORDED = json.loads(
    (Path(__file__).parents[1] / "shapes" / "recorded" / "jaeger_v3_search.json").read_text()
)
HOST = {"Host": "127.0.0.1:8090"}


def _closed_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def get(client, path, **headers):
    """GET ``path`` with an allowed Host."""
    return client.get(path, headers={**HOST, **headers})


def _error(response, status, code):
    """Assert a JSON error body of ``status``/``code`` (no stack trace); return it."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert (error["status"], error["code"]) == (status, code)
    assert "Traceback" not in response.get_data(as_text=True)
    return error


def one_trace(trace_id: str) -> dict:
    """The recorded search answer cut down to one trace (a ``/api/v3/traces/{id}`` answer)."""
    answer: dict = {"result": {"resourceSpans": []}}
    for resource in RECORDED["answer"]["result"]["resourceSpans"]:
        scopes = []
        for scope in resource["scopeSpans"]:
            spans = [s for s in scope["spans"] if s["traceId"] == trace_id]
            if spans:
                scopes.append({**scope, "spans": spans})
        if scopes:
            answer["result"]["resourceSpans"].append({**resource, "scopeSpans": scopes})
    return answer
