"""The common shape of a Flask service: JSON errors, health, traceresponse, tracing, admission."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, g, jsonify, request
from opentelemetry import trace
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.trace import Status, StatusCode
from werkzeug.exceptions import HTTPException

from services.common import (
    admin,
    admission,
    deadline,
    exclusions,
    faults,
    gthread_admission,
    health,
    launch,
    telemetry,
)
from services.common.config import ServiceSettings
from services.common.errors import ApiError, error_body, status_code_name
from services.common.logs import access_log_enabled, log_access
from services.common.validation import parse_json_object

log = logging.getLogger(__name__)

ReadinessChecks = Callable[[], Mapping[str, bool]]


def create_flask_app(
    import_name: str,
    settings: ServiceSettings,
    readiness: ReadinessChecks | None = None,
    *,
    untraced_paths: tuple[str, ...] = (),
    edge: bool = False,
) -> Flask:
    """A traced Flask app with JSON errors, ``/healthz``, ``/readyz`` and ``traceresponse``.

    It also mounts the admin API (``services.common.admin``), except at the
    ``edge``: the public frontend does not serve it. Health probes, the admin
    API and ``untraced_paths`` (regexes of the path, from its start) make no
    spans (``untraced_paths`` only with programmatic instrumentation: under
    ``TRACELAB_INSTRUMENTATION=zero-code`` the exclusions are the process's
    ``OTEL_PYTHON_FLASK_EXCLUDED_URLS``). Every other request gets its budget and passes admission
    (``_admission_hook``); at the ``edge`` the caller's budget header is
    ignored and the budget is ``settings.request_budget_s``.
    """
    app = Flask(import_name)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    _register_error_handlers(app)
    _register_health(app, readiness or dict)
    if not edge:
        _register_admin(app, settings.name)
    faults.REGISTRY.load_env()
    app.after_request(_add_traceresponse)
    if access_log_enabled():
        _register_access_log(app)
    app.after_request(_close_after_unread_body)
    untraced = (*exclusions.UNTRACED, *untraced_paths)
    if not launch.zero_code() and telemetry.instrumentation_enabled("flask"):
        # Zero-code: opentelemetry-instrument made every Flask app traced, with
        # OTEL_PYTHON_FLASK_EXCLUDED_URLS (launch.instrumentation_defaults).
        FlaskInstrumentor().instrument_app(
            app, excluded_urls=exclusions.for_urls(untraced), enable_commenter=False
        )
    # After the instrumentation's own hook: the server span exists by then.
    plumbing = re.compile("|".join(f"(?:{pattern})" for pattern in untraced))
    app.before_request(_admission_hook(settings, plumbing, trust_budget_header=not edge))
    app.teardown_request(_end_budget)
    return app


_BUDGET_TOKEN = "tracelab_budget_token"


def _admission_hook(
    settings: ServiceSettings, untraced: re.Pattern[str], *, trust_budget_header: bool
) -> Callable[[], None]:
    def _admit() -> None:
        """Start the request's budget from its arrival; shed it when it cannot be served.

        Under gunicorn the arrival is when the request entered the worker's
        queue (``services.common.gthread_admission``), so queued time counts.
        Untraced plumbing (health probes, the admin API, the lab) is neither
        budgeted nor shed.
        """
        if untraced.match(request.path):
            return
        arrival = gthread_admission.current_arrival()
        now = time.monotonic()
        arrived_at = arrival.at if arrival is not None else now
        budget_s = deadline.budget_for(
            request.headers.get(deadline.BUDGET_HEADER),
            settings.request_budget_s,
            trust_header=trust_budget_header,
        )
        setattr(g, _BUDGET_TOKEN, deadline.start(budget_s, arrived_at))
        waited_s = now - arrived_at
        span = trace.get_current_span()
        span.set_attribute(deadline.BUDGET_ATTRIBUTE, round(budget_s * 1000))
        span.set_attribute(deadline.QUEUE_WAIT_ATTRIBUTE, round(waited_s * 1000, 1))
        load = (0, 0) if arrival is None else _load(arrival)
        if arrival is not None and arrival.shed:
            admission.mark_shed(admission.QUEUE_FULL, in_flight=load[0], queued=load[1])
            raise admission.Overloaded(settings.name)
        deadline.check(f"before {settings.name} started")
        if waited_s > settings.max_queue_wait_s:
            admission.mark_shed(
                admission.QUEUE_TIMEOUT, in_flight=load[0], queued=load[1], waited_s=waited_s
            )
            raise admission.Overloaded(settings.name)

    return _admit


def _load(arrival: gthread_admission.Arrival) -> tuple[int, int]:
    """(in flight, queued) in the worker when ``arrival`` came."""
    return min(arrival.in_pool, arrival.threads), max(0, arrival.in_pool - arrival.threads)


def _end_budget(_exc: BaseException | None) -> None:
    token = g.pop(_BUDGET_TOKEN, None)
    if token is not None:
        deadline.reset(token)


def _close_after_unread_body(response: Response) -> Response:
    # A 413 leaves the body unread; gunicorn drains at most 64 KiB of it and
    # then closes, so the answer must say so or the client reuses a dead
    # connection for its next request.
    if response.status_code == 413:
        gthread_admission.close_connection_after_response()
    return response


def json_body(max_bytes: int) -> dict[str, Any]:
    """The current request's body as a JSON object (raises 400/413/415)."""
    too_large = ApiError(413, "payload_too_large", f"request body exceeds {max_bytes} bytes")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        # werkzeug silently cuts a streamed (chunked) body at MAX_CONTENT_LENGTH:
        # one that reached the limit cannot be told from one that went past it.
        raise too_large
    return parse_json_object(raw, request.content_type, max_bytes)


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _json_error(status: int, body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        response = _json_error(exc.status, exc.body())
        response.headers.update(exc.headers())
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        return _json_error(
            status, error_body(status, status_code_name(status), exc.description or exc.name)
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        span = trace.get_current_span()
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        log.exception("unhandled error in %s %s", request.method, request.path)
        return _json_error(500, error_body(500, "internal_error", "internal server error"))


def _register_health(app: Flask, readiness: ReadinessChecks) -> None:
    @app.get("/healthz")
    def _healthz() -> Response:
        return jsonify(health.liveness())

    @app.get("/readyz")
    def _readyz() -> Response:
        body, status = health.readiness(readiness())
        return _json_error(status, body)


def _register_admin(app: Flask, service: str) -> None:
    @app.get(admin.SCENARIOS_PATH)
    def _scenarios() -> Response:
        admin.authorize(request.headers.get(admin.TOKEN_HEADER))
        return jsonify(admin.listing(service))

    @app.route(f"{admin.SCENARIOS_PATH}/<name>", methods=["GET", "PUT", "DELETE"])
    def _scenario(name: str) -> Response:
        admin.authorize(request.headers.get(admin.TOKEN_HEADER))
        if request.method == "GET":
            return jsonify(admin.state(service, name))
        body = admin.decode_body(request.get_data(cache=True))
        return jsonify(admin.switch(service, request.method, name, body))


def _register_access_log(app: Flask) -> None:
    def started() -> None:
        g.tracelab_started = time.perf_counter()

    def finished(response: Response) -> Response:
        if request.path not in health.HEALTH_PATHS and not request.path.startswith(
            (admin.ADMIN_PREFIX, "/static/")
        ):
            elapsed = (time.perf_counter() - g.get("tracelab_started", time.perf_counter())) * 1000
            log_access(request.method, request.path, response.status_code, elapsed)
        return response

    app.before_request(started)
    app.after_request(finished)


def _add_traceresponse(response: Response) -> Response:
    value = telemetry.traceresponse()
    if value:
        response.headers["traceresponse"] = value
    return response
