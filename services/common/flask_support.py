"""The common shape of a Flask service: JSON errors, health, traceresponse, tracing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, g, jsonify, request
from opentelemetry import trace
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.trace import Status, StatusCode
from werkzeug.exceptions import HTTPException

from services.common import admin, faults, health, telemetry
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
) -> Flask:
    """A traced Flask app with JSON errors, ``/healthz``, ``/readyz`` and ``traceresponse``.

    It also mounts the admin API (``services.common.admin``). Health probes,
    the admin API and ``untraced_paths`` (regexes searched in the URL) make
    no spans.
    """
    app = Flask(import_name)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    _register_error_handlers(app)
    _register_health(app, readiness or dict)
    _register_admin(app, settings.name)
    faults.REGISTRY.load_env()
    app.after_request(_add_traceresponse)
    if access_log_enabled():
        _register_access_log(app)
    excluded = (*health.HEALTH_PATHS, admin.ADMIN_PREFIX, *untraced_paths)
    FlaskInstrumentor().instrument_app(
        app, excluded_urls=",".join(excluded), enable_commenter=False
    )
    return app


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
        return _json_error(exc.status, exc.body())

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
