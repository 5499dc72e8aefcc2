"""The golden shapes in tests/shapes: they load, accept the intended trace, reject near misses.

The traces here are what docs/architecture.md and the HTTP semantic
conventions predict; the e2e tier checks the shapes against real traces.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.unit.shapes.builders import N, build, http_client, http_server, node, sql
from tracelab.shapes.matcher import match
from tracelab.shapes.model import KINDS, STATUSES
from tracelab.shapes.shape import SCHEMA_PATH, load_shape

SHAPES = Path(__file__).resolve().parents[2] / "shapes"
GATEWAY, AUTH, USER, DB = (f"http://127.0.0.1:{port}" for port in (8081, 8082, 8083, 8084))


def _verify(start: float, end: float, code: int = 200) -> N:
    verify = node("auth", "auth.token_verify", start=start + 2, end=end - 2)
    if code == 401:
        verify = node(
            "auth",
            "auth.token_verify",
            start=start + 2,
            end=end - 2,
            status="error",
            message="InvalidTokenError: bad token",
            events=(("exception", {"exception.type": "InvalidTokenError"}),),
        )
    server = http_server("auth", "POST", "/verify", code, start=start + 1, end=end - 1)
    server.children = [verify]
    return http_client(
        "gateway", "POST", f"{AUTH}/verify", code, start=start, end=end, children=[server]
    )


def _user_call(path: str, route: str, db_route: str, start: float, end: float, code=200) -> N:
    return http_client(
        "gateway",
        "GET",
        f"{USER}{path}",
        code,
        start=start,
        end=end,
        children=[
            http_server(
                "user",
                "GET",
                route,
                code,
                start=start + 1,
                end=end - 1,
                children=[
                    http_client(
                        "user",
                        "GET",
                        f"{DB}{path}",
                        code,
                        start=start + 2,
                        end=end - 2,
                        children=[
                            http_server(
                                "db",
                                "GET",
                                db_route,
                                code,
                                start=start + 3,
                                end=end - 3,
                                children=[sql(start + 4, end - 4)],
                            )
                        ],
                    )
                ],
            )
        ],
    )


def _edge(method: str, route: str, gateway_route: str, url: str, code: int, inner: list[N]):
    """frontend server -> frontend client -> gateway server -> ``inner``."""
    return build(
        http_server(
            "frontend",
            method,
            route,
            code,
            start=0,
            end=100,
            children=[
                http_client(
                    "frontend",
                    method,
                    f"{GATEWAY}{url}",
                    code,
                    start=1,
                    end=99,
                    children=[
                        http_server(
                            "gateway", method, gateway_route, code, start=2, end=98, children=inner
                        )
                    ],
                )
            ],
        )
    )


def login_trace(auth_status: str = "unset", issue_first: bool = False):
    lookup = http_client(
        "auth",
        "POST",
        f"{DB}/users/lookup",
        start=5,
        end=20,
        children=[
            http_server("db", "POST", "/users/lookup", start=6, end=19, children=[sql(7, 18)])
        ],
    )
    verify_at, issue_at = (60, 30) if issue_first else (30, 60)
    steps = [
        lookup,
        node(
            "auth",
            "auth.password_verify",
            start=verify_at,
            end=verify_at + 20,
            attrs={"enduser.id": "2"},
        ),
        node(
            "auth", "auth.token_issue", start=issue_at, end=issue_at + 20, attrs={"enduser.id": "2"}
        ),
    ]
    auth = http_server(
        "auth", "POST", "/login", start=4, end=90, status=auth_status, children=steps
    )
    call = http_client("gateway", "POST", f"{AUTH}/login", start=3, end=91, children=[auth])
    return _edge("POST", "/api/login", "/api/login", "/api/login", 200, [call])


def profile_trace():
    user = _user_call("/users/3", "/users/{id}", "/users/<int:user_id>", 20, 80)
    return _edge(
        "GET",
        "/api/users/<int:user_id>",
        "/api/users/{id}",
        "/api/users/3",
        200,
        [_verify(3, 15), user],
    )


def dashboard_trace(activity_start: float = 25):
    fanout = node(
        "gateway",
        "gateway.dashboard_fanout",
        start=18,
        end=95,
        children=[
            _user_call("/users/4", "/users/{id}", "/users/<int:user_id>", 20, 60),
            _user_call(
                "/users/4/activity?limit=10",
                "/users/{id}/activity",
                "/users/<int:user_id>/activity",
                activity_start,
                activity_start + 30,
            ),
        ],
    )
    return _edge(
        "GET", "/api/dashboard", "/api/dashboard", "/api/dashboard", 200, [_verify(3, 15), fanout]
    )


def bad_token_trace(exception_on_gateway: bool = False):
    gateway_events = ("exception",) if exception_on_gateway else ()
    trace_root = http_server("frontend", "GET", "/api/users/<int:user_id>", 401, start=0, end=50)
    gateway = http_server(
        "gateway", "GET", "/api/users/{id}", 401, start=2, end=48, events=gateway_events
    )
    gateway.children = [_verify(3, 40, code=401)]
    trace_root.children = [
        http_client(
            "frontend", "GET", f"{GATEWAY}/api/users/1", 401, start=1, end=49, children=[gateway]
        )
    ]
    return build(trace_root)


def not_found_trace(server_status: str = "unset"):
    user = _user_call("/users/999999", "/users/{id}", "/users/<int:user_id>", 20, 80, code=404)
    user.children[0].status = server_status
    return _edge(
        "GET",
        "/api/users/<int:user_id>",
        "/api/users/{id}",
        "/api/users/999999",
        404,
        [_verify(3, 15), user],
    )


EVERY_SHAPE = sorted(SHAPES.rglob("*.yaml"))
SCHEMA_HINT = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def test_the_shape_schema_is_a_valid_draft_2020_12_schema_with_the_model_enums():
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    node = schema["$defs"]["node"]["properties"]
    assert tuple(node["kind"]["enum"]) == KINDS
    assert tuple(node["status"]["enum"]) == STATUSES


@pytest.mark.parametrize("path", EVERY_SHAPE, ids=lambda p: str(p.relative_to(SHAPES)))
def test_every_shape_file_validates_against_the_schema_its_first_line_names(path):
    text = path.read_text()
    hint = SCHEMA_HINT.match(text.splitlines()[0])
    assert hint, f"{path}: the first line should be the editor's schema hint"
    schema_file = (path.parent / hint.group(1)).resolve()
    assert schema_file == SCHEMA_PATH
    validator = jsonschema.Draft202012Validator(
        json.loads(schema_file.read_text()),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(yaml.safe_load(text))]
    assert errors == []
    load_shape(path)


@pytest.mark.parametrize("path", sorted(SHAPES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_golden_shape_loads_and_describes_itself(path):
    shape = load_shape(path)
    assert shape.name == path.stem
    assert len(shape.description) > 40
    assert shape.single_trace is True
    assert shape.root.service == "frontend" and shape.root.kind == "server"


@pytest.mark.parametrize(
    ("name", "trace"),
    [
        ("login", login_trace()),
        ("profile", profile_trace()),
        ("dashboard", dashboard_trace()),
        ("bad_token", bad_token_trace()),
        ("not_found", not_found_trace()),
    ],
)
def test_golden_shape_accepts_the_intended_trace(name, trace):
    result = match(load_shape(SHAPES / f"{name}.yaml"), trace)
    assert result.ok, result.report()


def test_journeys_need_all_five_shapes():
    assert {p.stem for p in SHAPES.glob("*.yaml")} >= {
        "login",
        "profile",
        "dashboard",
        "bad_token",
        "not_found",
    }


def test_login_rejects_an_error_on_auth_and_the_wrong_step_order():
    shape = load_shape(SHAPES / "login.yaml")
    errored = match(shape, login_trace(auth_status="error"))
    assert [(m.what, m.expected, m.found) for m in errored.mismatches] == [
        ("status", "unset", "error")
    ]
    reordered = match(shape, login_trace(issue_first=True))
    assert [m.what for m in reordered.mismatches] == ["child order"]


def test_dashboard_rejects_sequential_user_calls():
    result = match(load_shape(SHAPES / "dashboard.yaml"), dashboard_trace(activity_start=61))
    whats = [m.what for m in result.mismatches]
    assert "concurrent children" in whats, result.report()


def test_bad_token_rejects_an_exception_event_on_the_wrong_span():
    result = match(
        load_shape(SHAPES / "bad_token.yaml"), bad_token_trace(exception_on_gateway=True)
    )
    assert [(m.where.split(" [")[0], m.what) for m in result.mismatches] == [
        ("gateway re'^GET /api/users/'", "absent event exception")
    ]


def test_not_found_rejects_a_404_recorded_as_a_server_error():
    result = match(load_shape(SHAPES / "not_found.yaml"), not_found_trace(server_status="error"))
    assert [(m.span.service, m.span.kind, m.what) for m in result.mismatches] == [
        ("user", "server", "status")
    ]


def slow_external_trace(partner_first: bool = True, partner_traced: bool = False):
    """A dashboard whose profile handler first waits ~800 ms on an external avatar API."""
    profile = _user_call("/users/4", "/users/{id}", "/users/<int:user_id>", 20, 900)
    handler = profile.children[0]
    db_call = handler.children[0]
    db_call.start, db_call.end = 830, 890
    external = http_client(
        "user", "GET", "http://127.0.0.1:41999/avatars/4?delay_ms=800", start=25, end=825
    )
    if partner_traced:
        external.children = [http_server("partner", "GET", "/avatars/{id}", start=26, end=824)]
    if not partner_first:
        external.start, external.end, db_call.start, db_call.end = 95, 895, 25, 90
    handler.children = [external, db_call]
    activity = _user_call(
        "/users/4/activity?limit=10",
        "/users/{id}/activity",
        "/users/<int:user_id>/activity",
        25,
        55,
    )
    fanout = node("gateway", "gateway.dashboard_fanout", start=18, end=905)
    fanout.children = [profile, activity]
    trace = _edge(
        "GET", "/api/dashboard", "/api/dashboard", "/api/dashboard", 200, [_verify(3, 15), fanout]
    )
    return trace


def test_slow_external_accepts_the_uninstrumented_call_before_the_profile_query():
    shape = load_shape(SHAPES / "scenarios" / "slow-external.yaml")
    assert match(shape, slow_external_trace()).ok, match(shape, slow_external_trace()).report()
    # Near misses: the callee traced (so not external), or the call made after db's.
    traced = match(shape, slow_external_trace(partner_traced=True))
    assert not traced.ok and "partner" in traced.report()
    late = match(shape, slow_external_trace(partner_first=False))
    assert [m.what for m in late.mismatches] == ["child order"], late.report()
    # The journey without the fault is no match at all.
    assert not match(shape, dashboard_trace()).ok
