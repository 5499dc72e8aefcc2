"""HTTP handlers of the gateway: authenticate with auth, then route to user."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from aiohttp import web
from opentelemetry.trace import Span, Status, StatusCode

from services.auth.client import AuthClient
from services.common import faults, scenarios, telemetry
from services.common.aiohttp_support import read_json
from services.common.errors import ApiError
from services.common.validation import parse_positive_int, require_fields
from services.user.client import Activity, UserClient, UserProfile

AUTH_CLIENT = web.AppKey("auth_client", AuthClient)
USER_CLIENT = web.AppKey("user_client", UserClient)
MAX_BODY_BYTES = web.AppKey("max_body_bytes", int)

FANOUT_SPAN = "gateway.dashboard_fanout"
DASHBOARD_ACTIVITY_LIMIT = 10

_tracer = telemetry.tracer(__name__)


async def _authenticate(request: web.Request) -> int:
    """The caller's user id, verified by auth (its 401 passes through)."""
    return await request.app[AUTH_CLIENT].verify(request.headers.get("Authorization"))


async def login(request: web.Request) -> web.Response:
    """``POST /api/login``: check the body, then let auth log the user in."""
    body = await read_json(request, request.app[MAX_BODY_BYTES])
    fields = require_fields(body, {"email": str, "password": str})
    result = await request.app[AUTH_CLIENT].login(fields["email"], fields["password"])
    return web.json_response({"token": result.token, "user_id": result.user_id})


async def get_user(request: web.Request) -> web.Response:
    """``GET /api/users/{id}``: verify the caller, then fetch the profile from user."""
    await _authenticate(request)
    user_id = parse_positive_int(request.match_info["id"], "user id")
    profile = await request.app[USER_CLIENT].get_profile(user_id)
    return web.json_response(asdict(profile))


async def dashboard(request: web.Request) -> web.Response:
    """``GET /api/dashboard``: the caller's profile and activity, fetched concurrently."""
    user_id = await _authenticate(request)
    profile, activity = await _fan_out(request.app[USER_CLIENT], user_id)
    return web.json_response(
        {"profile": asdict(profile), "activity": [asdict(item) for item in activity]}
    )


async def _fan_out(users: UserClient, user_id: int) -> tuple[UserProfile, list[Activity]]:
    """Both user calls at once, as children of one ``gateway.dashboard_fanout`` span."""
    with _tracer.start_as_current_span(
        FANOUT_SPAN, record_exception=False, set_status_on_exception=False
    ) as span:
        if faults.active(scenarios.SEQUENTIAL_FANOUT) is not None:
            profile, activity = await _one_after_the_other(users, user_id)
        else:
            # return_exceptions keeps both calls inside the span even when one fails early.
            profile, activity = await asyncio.gather(
                users.get_profile(user_id),
                users.get_activity(user_id, DASHBOARD_ACTIVITY_LIMIT),
                return_exceptions=True,
            )
        for result in (profile, activity):
            if isinstance(result, BaseException):
                _mark_failed(span, result)
                raise result
    return profile, activity


async def _one_after_the_other(
    users: UserClient, user_id: int
) -> tuple[UserProfile | BaseException, list[Activity] | BaseException]:
    """Scenario sequential-fanout: await each call in turn (the fix: asyncio.gather)."""
    results: list[Any] = []
    for call in (users.get_profile(user_id), users.get_activity(user_id, DASHBOARD_ACTIVITY_LIMIT)):
        try:
            results.append(await call)
        except ApiError as exc:
            results.append(exc)
    return results[0], results[1]


def _mark_failed(span: Span, exc: BaseException) -> None:
    # A downstream 4xx is the caller's problem, not a failure of this step;
    # services.common.http already put the exception event of a 5xx here.
    if isinstance(exc, ApiError):
        if exc.status >= 500:
            span.set_status(Status(StatusCode.ERROR, exc.message))
        return
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


def add_routes(app: web.Application) -> None:
    """Register the gateway's endpoints on ``app``."""
    app.router.add_post("/api/login", login)
    app.router.add_get("/api/users/{id}", get_user)
    app.router.add_get("/api/dashboard", dashboard)
