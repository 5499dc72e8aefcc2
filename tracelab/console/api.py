"""The console's JSON API (``/api/*``): what its page calls, and what scripts may call too.

Every answer is JSON; every failure is ``{"error": {status, code, message}}``
with the right status: 400 for a malformed id or query, 404 for a trace the
backend does not hold, 502 when a backend answers garbage, 503 (with
``Retry-After``) when it cannot be reached, the message saying how to start
it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, jsonify, request

from services.common.errors import ApiError, BadRequest, NotFound
from tracelab.console.links import trace_links
from tracelab.console.trace_view import trace_view
from tracelab.shapes.backends import BackendClient, BackendError, BackendUnavailable
from tracelab.shapes.ids import normalise_trace_id
from tracelab.shapes.query import QueryError, TraceQuery

if TYPE_CHECKING:
    from tracelab.console.app import Console

CONSOLE_KEY = "tracelab.console"
MAX_BODY = 16 * 1024

api = Blueprint("console_api", __name__, url_prefix="/api")


def _console() -> Console:
    return current_app.extensions[CONSOLE_KEY]


def _client() -> BackendClient:
    return _console().client(request.args.get("backend"))


def _backend_failure(client: BackendClient, exc: BackendError) -> ApiError:
    hint = _console().settings.start_hint
    if isinstance(exc, BackendUnavailable):
        return ApiError(
            503,
            "backend_unavailable",
            f"{client.name} at {client.base_url} is not answering: start it with `{hint}`",
            details={"backend": client.name, "url": client.base_url, "hint": hint},
        )
    return ApiError(502, "backend_error", str(exc), details={"backend": client.name})


def _call(client: BackendClient, action: Any) -> Any:
    try:
        return action()
    except QueryError as exc:
        raise BadRequest(str(exc), "invalid_query") from None
    except BackendError as exc:
        raise _backend_failure(client, exc) from None


def _trace_id(raw: str) -> str:
    try:
        return normalise_trace_id(raw)
    except ValueError:
        raise BadRequest(
            f"{raw[:64]!r} is not a trace id (32 hexadecimal digits)", "invalid_trace_id"
        ) from None


def _query() -> TraceQuery:
    try:
        return TraceQuery.from_params(request.args)
    except QueryError as exc:
        raise BadRequest(str(exc), "invalid_query") from None


@api.get("/status")
def status() -> Response:
    """The backends (reachable or not, and how to start them), journeys, log source, links."""
    console = _console()
    backends = []
    for name, url in console.backends.items():
        client = console.client(name)
        try:
            client.ping()
            backends.append({"name": name, "url": url, "up": True})
        except BackendError as exc:
            failure = _backend_failure(client, exc)
            backends.append({"name": name, "url": url, "up": False, "message": failure.message})
    return jsonify(
        backends=backends,
        start_hint=console.settings.start_hint,
        journeys=console.lab.journeys(),
        logs=console.logs.available,
        links={
            "jaeger": console.settings.jaeger_ui_url is not None,
            "grafana": console.settings.grafana_url is not None,
        },
    )


@api.get("/services")
def services() -> Response:
    """The service names the backend has seen."""
    client = _client()
    return jsonify(backend=client.name, services=_call(client, client.services))


@api.get("/operations")
def operations() -> Response:
    """The span names of one service."""
    client = _client()
    service = (request.args.get("service") or "").strip()
    if not service:
        raise BadRequest("which service? pass ?service=<name>", "invalid_query")
    return jsonify(
        backend=client.name,
        service=service,
        operations=_call(client, lambda: client.operations(service)),
    )


@api.get("/traceql")
def traceql() -> Response:
    """The TraceQL the search form stands for (what Tempo would run)."""
    return jsonify(traceql=_query().to_traceql())


@api.get("/search")
def search() -> Response:
    """Search: the form's fields (``TraceQuery.from_params``), or ``q`` (TraceQL, Tempo)."""
    client = _client()
    query = _query()
    result = _call(client, lambda: client.search(query))
    return jsonify(**result.to_dict(), form=query.describe(), traceql=query.to_traceql())


def _trace(client: BackendClient, trace_id: str):
    trace = _call(client, lambda: client.get_trace(trace_id))
    if trace is None:
        raise NotFound(
            f"{client.name} holds no trace {trace_id} (yet: spans arrive in batches; "
            "check the id, or the time it was sampled)",
            "trace_not_found",
        )
    return trace


@api.get("/trace/<raw_id>")
def trace(raw_id: str) -> Response:
    """One trace for the waterfall: spans in tree order, critical path, statistics, arrival."""
    client = _client()
    trace_id = _trace_id(raw_id)
    view = trace_view(_trace(client, trace_id), client.name)
    view["links"] = trace_links(_console().settings, trace_id)
    return jsonify(view)


@api.get("/trace/<raw_id>/otlp")
def trace_document(raw_id: str) -> Response:
    """The trace as OTLP/JSON (``TracesData``), as a download."""
    client = _client()
    trace_id = _trace_id(raw_id)
    document = _call(client, lambda: client.get_document(trace_id))
    if not document or not document.get("resourceSpans"):
        raise NotFound(f"{client.name} holds no trace {trace_id}", "trace_not_found")
    response = Response(json.dumps(document, indent=1), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="trace-{trace_id}.json"'
    return response


@api.get("/trace/<raw_id>/logs")
def trace_logs(raw_id: str) -> Response:
    """The services' log lines that carry this trace id (local mode's log files)."""
    trace_id = _trace_id(raw_id)
    logs = _console().logs
    return jsonify(trace_id=trace_id, available=logs.available, lines=logs.lines(trace_id))


@api.get("/journeys")
def journeys() -> Response:
    """The journeys the console can fire."""
    return jsonify(journeys=_console().lab.journeys())


def _body() -> dict[str, Any]:
    raw = request.get_data(cache=False)[: MAX_BODY + 1]
    if len(raw) > MAX_BODY:
        raise ApiError(413, "payload_too_large", f"request body exceeds {MAX_BODY} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("request body is not valid JSON", "malformed_json") from None
    if not isinstance(body, dict):
        raise ApiError(422, "validation_failed", "request body must be a JSON object")
    return body


@api.post("/journeys/<name>")
def fire(name: str) -> Response:
    """Fire journey ``name`` once (``{"user": n}`` picks the seed user); its trace id."""
    user = _body().get("user", 1)
    if isinstance(user, bool) or not isinstance(user, int) or not 1 <= user <= 1000:
        raise ApiError(422, "validation_failed", "user must be a seed user number, 1..1000")
    return jsonify(_console().lab.fire(name, user))


@api.get("/scenarios")
def scenarios() -> Response:
    """Every scenario and whether it is on."""
    return jsonify(scenarios=_console().lab.scenarios())


@api.route("/scenarios/<name>", methods=["PUT", "DELETE"])
def switch(name: str) -> Response:
    """Switch a scenario on (PUT, optional ``{"params": {...}}``) or off (DELETE)."""
    params = None
    if request.method == "PUT":
        params = _body().get("params")
        if params is not None and not isinstance(params, dict):
            raise ApiError(422, "validation_failed", 'body must be {"params": {...}}')
    return jsonify(_console().lab.switch(name, request.method == "PUT", params))
