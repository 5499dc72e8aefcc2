"""HTTP handlers of the user service."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from services.common.errors import BadRequest
from services.common.validation import parse_positive_int
from services.db.client import DbAsyncClient

DB_CLIENT = web.AppKey("db_client", DbAsyncClient)

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
    profile = await request.app[DB_CLIENT].get_profile(_user_id(request))
    return web.json_response(asdict(profile))


async def get_activity(request: web.Request) -> web.Response:
    """``GET /users/{id}/activity?limit=N``: the latest entries, ``{"items": [...]}``."""
    user_id, limit = _user_id(request), _limit(request)
    items = await request.app[DB_CLIENT].get_activity(user_id, limit)
    return web.json_response({"items": [asdict(item) for item in items]})


def add_routes(app: web.Application) -> None:
    """Register the user service's endpoints on ``app``."""
    app.router.add_get("/users/{id}", get_profile)
    app.router.add_get("/users/{id}/activity", get_activity)
