"""HTTP handlers of the user service."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from services.common import faults, scenarios
from services.common.errors import BadRequest
from services.common.models import Activity
from services.common.validation import parse_positive_int
from services.db.client import DbAsyncClient, DbSyncClient
from services.user import faulty
from services.user.partner import Partner

DB_CLIENT = web.AppKey("db_client", DbAsyncClient)
# A blocking client, only used by scenario lost-context.
DB_SYNC_CLIENT = web.AppKey("db_sync_client", DbSyncClient)
# The external avatar API of scenario slow-external (started on first use).
PARTNER = web.AppKey("partner", Partner)

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


def _user_id(request: web.Request) -> int:
    return parse_positive_int(request.match_info["id"], "user id")


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    limit = parse_positive_int(raw, "limit")
    if limit > MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", "invalid_parameter")
    return limit


async def get_profile(request: web.Request) -> web.Response:
    """``GET /users/{id}``: the user's profile (404 from db passes through)."""
    user_id = _user_id(request)
    blocking = faults.active(scenarios.BLOCKING_LOOP)
    if blocking is not None:
        faulty.block_event_loop(blocking)
    external = faults.active(scenarios.SLOW_EXTERNAL)
    if external is not None:
        await faulty.avatar_without_timeout(request.app[PARTNER], user_id, external)
    profile = await request.app[DB_CLIENT].get_profile(user_id)
    return web.json_response(asdict(profile))


async def get_activity(request: web.Request) -> web.Response:
    """``GET /users/{id}/activity?limit=N``: the latest entries, ``{"items": [...]}``."""
    user_id, limit = _user_id(request), _limit(request)
    items = await _fetch_activity(request.app, user_id, limit)
    return web.json_response({"items": [asdict(item) for item in items]})


async def _fetch_activity(app: web.Application, user_id: int, limit: int) -> list[Activity]:
    """One db call for the page, unless a scenario makes it misbehave."""
    db = app[DB_CLIENT]
    storm = faults.active(scenarios.RETRY_STORM)
    if storm is not None:
        return await faulty.activity_retrying(db, user_id, limit, storm)
    if faults.active(scenarios.N_PLUS_ONE) is not None:
        return await faulty.activity_one_by_one(db, user_id, limit)
    if faults.active(scenarios.LOST_CONTEXT) is not None:
        return await faulty.activity_in_thread_pool(app[DB_SYNC_CLIENT], user_id, limit)
    return await db.get_activity(user_id, limit)


def add_routes(app: web.Application) -> None:
    """Register the user service's endpoints on ``app``."""
    app.router.add_get("/users/{id}", get_profile)
    app.router.add_get("/users/{id}/activity", get_activity)
