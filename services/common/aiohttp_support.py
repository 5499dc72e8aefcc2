"""The common shape of an aiohttp service: JSON errors, health, traceresponse, admission."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from services.common import admin, admission, deadline, faults, health, telemetry
from services.common.config import ServiceSettings
from services.common.errors import ApiError, error_body, status_code_name
from services.common.logs import access_log_enabled, log_access
from services.common.validation import parse_json_object

log = logging.getLogger(__name__)

AsyncReadinessChecks = Callable[[], Awaitable[Mapping[str, bool]]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _no_dependencies() -> Mapping[str, bool]:
    return {}


def create_aiohttp_app(
    settings: ServiceSettings, readiness: AsyncReadinessChecks | None = None
) -> web.Application:
    """An aiohttp app with JSON errors, ``/healthz``, ``/readyz`` and ``traceresponse``.

    The tracing middleware is added by the aiohttp server instrumentation
    (``telemetry.init``) in front of the error middleware, so errors are
    mapped inside the server span; admission and the request budget
    (``admission_middleware``) come after it.
    """
    middlewares = [
        *([access_middleware] if access_log_enabled() else []),
        error_middleware,
        admission_middleware(settings),
    ]
    app = web.Application(middlewares=middlewares, client_max_size=settings.max_body_bytes)
    check = readiness or _no_dependencies

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response(health.liveness())

    async def readyz(_: web.Request) -> web.Response:
        body, status = health.readiness(await check())
        return web.json_response(body, status=status)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    add_admin_routes(app, settings.name)
    faults.REGISTRY.load_env()
    return app


def add_admin_routes(app: web.Application, service: str) -> None:
    """Mount the admin API of ``services.common.admin`` (untraced, token protected)."""

    async def scenarios(request: web.Request) -> web.Response:
        admin.authorize(request.headers.get(admin.TOKEN_HEADER))
        return web.json_response(admin.listing(service))

    async def scenario(request: web.Request) -> web.Response:
        admin.authorize(request.headers.get(admin.TOKEN_HEADER))
        name = request.match_info["name"]
        if request.method == "GET":
            return web.json_response(admin.state(service, name))
        body = admin.decode_body(await request.read())
        return web.json_response(admin.switch(service, request.method, name, body))

    app.router.add_get(admin.SCENARIOS_PATH, scenarios)
    path = admin.SCENARIOS_PATH + "/{name}"
    app.router.add_get(path, scenario)
    app.router.add_put(path, scenario)
    app.router.add_delete(path, scenario)


def json_error(status: int, code: str, message: str) -> web.Response:
    """A JSON error response in the common format."""
    return web.json_response(error_body(status, code, message), status=status)


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One access log line per request (inside the server span: it carries the trace id)."""
    started = time.perf_counter()
    response = await handler(request)
    if request.path not in health.HEALTH_PATHS and not request.path.startswith(admin.ADMIN_PREFIX):
        log_access(
            request.method, request.path, response.status, (time.perf_counter() - started) * 1000
        )
    return response


def _plumbing(path: str) -> bool:
    """Health probes and the admin API: never shed, never budgeted."""
    return path in health.HEALTH_PATHS or path.startswith(admin.ADMIN_PREFIX)


def admission_middleware(settings: ServiceSettings) -> Callable[..., Awaitable[Any]]:
    """Start the request's budget, then admit it (``services.common.admission``)."""
    gate = admission.AsyncAdmission(
        settings.name,
        admission.Limits(settings.max_in_flight, settings.max_queued, settings.max_queue_wait_s),
    )

    @web.middleware
    async def _admission(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _plumbing(request.path):
            return await handler(request)
        header = request.headers.get(deadline.BUDGET_HEADER)
        budget_s = deadline.budget_for(header, settings.request_budget_s, trust_header=True)
        trace.get_current_span().set_attribute(deadline.BUDGET_ATTRIBUTE, round(budget_s * 1000))
        with deadline.budget(budget_s):
            deadline.check(f"before {settings.name} started")
            async with gate.admitted():
                return await handler(request)

    return _admission


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a JSON error and add ``traceresponse``."""
    try:
        response = await handler(request)
    except ApiError as exc:
        response = web.json_response(exc.body(), status=exc.status, headers=exc.headers())
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = json_error(exc.status, status_code_name(exc.status), exc.reason)
    except Exception as exc:
        span = trace.get_current_span()
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        log.exception("unhandled error in %s %s", request.method, request.path)
        response = json_error(500, "internal_error", "internal server error")
    value = telemetry.traceresponse()
    if value:
        response.headers["traceresponse"] = value
    return response


async def read_json(request: web.Request, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object (raises 400/413/415)."""
    too_large = ApiError(413, "payload_too_large", f"request body exceeds {max_bytes} bytes")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large from None
    return parse_json_object(raw, request.content_type, max_bytes)


def bearer_header(request: web.Request) -> Mapping[str, str]:
    """The caller's Authorization header, to forward to auth (empty when absent)."""
    value = request.headers.get("Authorization")
    return {"Authorization": value} if value else {}
