"""The lab console: local-only, untraced, trace simplification, log correlation, switching."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from services.common import faults
from services.common.admin import TOKEN_HEADER, admin_token
from services.frontend.app import create_app
from services.frontend.lab_settings import LabSettings, default_log_dir
from services.frontend.lab_sources import LogSource, simplify_jaeger_trace
from services.frontend.routes import GATEWAY_KEY
from tests.unit.frontend.conftest import frontend_settings

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"

JAEGER_ANSWER = {
    "data": [
        {
            "traceID": TRACE,
            "processes": {"p1": {"serviceName": "frontend"}, "p2": {"serviceName": "gateway"}},
            "spans": [
                {
                    "spanID": "b",
                    "operationName": "GET /api/dashboard",
                    "processID": "p2",
                    "references": [{"refType": "CHILD_OF", "spanID": "a"}],
                    "startTime": 1_000_500,
                    "duration": 2000,
                    "tags": [
                        {"key": "span.kind", "value": "server"},
                        {"key": "error", "value": True},
                    ],
                },
                {
                    "spanID": "a",
                    "operationName": "GET /api/dashboard",
                    "processID": "p1",
                    "references": [],
                    "startTime": 1_000_000,
                    "duration": 3000,
                    "tags": [{"key": "span.kind", "value": "server"}],
                },
            ],
        }
    ]
}


class _Recorder(BaseHTTPRequestHandler):
    """A fake admin API / Jaeger: records calls, answers from ``routes``."""

    calls: ClassVar[list[tuple[str, str, str | None]]] = []
    routes: ClassVar[dict[str, object]] = {}

    def _answer(self) -> None:
        self.calls.append((self.command, self.path, self.headers.get(TOKEN_HEADER)))
        body = self.routes.get(self.path, {"active": self.command == "PUT"})
        raw = json.dumps(body).encode()
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_PUT = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_backend() -> Iterator[str]:
    _Recorder.calls = []
    _Recorder.routes = {f"/api/traces/{TRACE}": JAEGER_ANSWER}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def lab_client(fake_backend, tmp_path, gateway):
    lab = LabSettings(
        services={
            "gateway": fake_backend,
            "auth": fake_backend,
            "user": fake_backend,
            "db": fake_backend,
        },
        jaeger_query_url=fake_backend,
        log_dir=tmp_path,
    )
    app = create_app(frontend_settings(gateway.url), lab=lab)
    yield app.test_client()
    app.extensions[GATEWAY_KEY].close()


def test_simplified_trace_is_depth_first_with_relative_times():
    spans = simplify_jaeger_trace(JAEGER_ANSWER)
    assert [(s["service"], s["depth"], s["start_ms"]) for s in spans] == [
        ("frontend", 0, 0.0),
        ("gateway", 1, 0.5),
    ]
    assert spans[1]["status"] == "error" and spans[0]["status"] == "ok"
    assert spans[0]["duration_ms"] == 3.0 and spans[1]["parent_id"] == "a"


def test_page_and_trace_api(lab_client, spans):
    page = lab_client.get("/lab")
    assert page.status_code == 200
    assert b'data-journey="dashboard"' in page.data
    answer = lab_client.get(f"/lab/api/traces/{TRACE}").get_json()
    assert [s["service"] for s in answer["spans"]] == ["frontend", "gateway"]
    # The console's own requests are not traced.
    assert not [s for s in spans.all() if "/lab" in s.name]


def test_bad_trace_id_is_a_400(lab_client):
    assert lab_client.get("/lab/api/traces/not-hex").status_code == 400


def test_the_lab_answers_loopback_callers_only(lab_client):
    remote = lab_client.get("/lab", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert remote.status_code == 403
    assert remote.get_json()["error"]["code"] == "lab_local_only"
    switched = lab_client.put(
        "/lab/api/scenarios/slow-query", environ_base={"REMOTE_ADDR": "203.0.113.7"}
    )
    assert switched.status_code == 403
    assert _Recorder.calls == []


def test_switching_goes_to_the_owners_with_the_token_server_side(lab_client):
    answer = lab_client.put("/lab/api/scenarios/retry-storm")
    assert answer.get_json() == {"name": "retry-storm", "active": True}
    puts = [(m, p) for m, p, _ in _Recorder.calls if m == "PUT"]
    assert puts == [("PUT", "/admin/scenarios/retry-storm")] * 2  # db and user
    assert {token for *_, token in _Recorder.calls} == {admin_token()}
    assert lab_client.put("/lab/api/scenarios/nope").status_code == 404


def test_log_lines_of_one_trace(tmp_path):
    lines = [
        {"time": "2026-01-01T00:00:02", "service": "db", "message": "b", "trace_id": TRACE},
        {"time": "2026-01-01T00:00:01", "service": "auth", "message": "a", "trace_id": TRACE},
        {"time": "2026-01-01T00:00:03", "service": "db", "message": "other", "trace_id": "f" * 32},
    ]
    (tmp_path / "db.log").write_text("\n".join(json.dumps(x) for x in lines[::2]) + "\nnot json\n")
    (tmp_path / "auth.log").write_text(json.dumps(lines[1]) + "\n")
    found = LogSource(tmp_path).lines(TRACE)
    assert [entry["message"] for entry in found] == ["a", "b"]
    assert LogSource(tmp_path / "missing").lines(TRACE) == []


def test_log_dir_defaults(tmp_path):
    assert default_log_dir({"TRACELAB_LOG_DIR": str(tmp_path)}) == tmp_path
    assert default_log_dir({"TRACELAB_RUN_DIR": "/r"}) == Path("/r/logs")
    assert default_log_dir({}) == Path(".run/logs")


def test_scenario_listing_reads_every_owner(lab_client):
    faults.REGISTRY.disable_all()
    listing = lab_client.get("/lab/api/scenarios").get_json()["scenarios"]
    assert {s["name"] for s in listing} == set(faults.SCENARIOS)
    gets = {p for m, p, _ in _Recorder.calls if m == "GET"}
    assert "/admin/scenarios/retry-storm" in gets


def test_a_trace_looks_complete_once_every_call_has_its_server():
    from services.frontend.lab_sources import looks_complete

    root = {"span_id": "a", "parent_id": None, "kind": "server", "db": False}
    call = {"span_id": "b", "parent_id": "a", "kind": "client", "db": False}
    served = {"span_id": "c", "parent_id": "b", "kind": "server", "db": False}
    sql = {"span_id": "d", "parent_id": "c", "kind": "client", "db": True}
    orphan = {"span_id": "e", "parent_id": "zz", "kind": "server", "db": False}
    assert not looks_complete([])
    assert not looks_complete([root, call])
    assert looks_complete([root, call, served, sql])
    assert not looks_complete([root, call, served, sql, orphan])
