"""A real in-process fake db server speaking the db service's JSON contract.

Built after telemetry.init (tests/unit/conftest.py), so it is traced by the
same provider as the user service: one test sees the whole trace.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from services.common.config import ServiceSettings
from services.user.settings import Settings

USER_ID = 7
MISSING_USER = 404404
BROKEN_USER = 500500
SLOW_USER = 504504
# The user service's call timeout: far above any answer of the fake, so a
# busy machine never turns a success into a timeout. The timeout test gives
# its request a short budget instead, and the fake answers it much later.
TIMEOUT_S = 5.0
SHORT_BUDGET_MS = 300
SLOW_ANSWER_S = 1.2


def profile(user_id: int) -> dict:
    """The profile the fake db answers for ``user_id``."""
    return {
        "id": user_id,
        "email": f"user{user_id:04d}@tracelab.test",
        "name": f"User {user_id:04d}",
        "created_at": "2024-01-02T03:04:05+00:00",
    }


def activity(user_id: int, limit: int) -> list[dict]:
    """The activity the fake db answers for ``user_id`` (it has 20 entries)."""
    return [
        {
            "id": user_id * 100 + n,
            "kind": "login",
            "detail": f"event {n}",
            "created_at": "2024-01-02T03:04:05+00:00",
        }
        for n in range(min(limit, 20))
    ]


def error(status: int, code: str, message: str) -> web.Response:
    """A JSON error in the common format, as the db service sends it."""
    body = {"error": {"status": status, "code": code, "message": message}}
    return web.json_response(body, status=status)


@dataclass
class FakeDb:
    """db's ``GET /users/{id}`` and ``GET /users/{id}/activity``; remembers the queries."""

    queries: list[dict[str, str]] = field(default_factory=list)
    malformed: bool = False

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/users/{id}", self.get_profile)
        app.router.add_get("/users/{id}/activity", self.get_activity)
        app.router.add_get("/healthz", self.healthz)
        return app

    async def _answer(self, request: web.Request, payload: dict) -> web.Response:
        self.queries.append({"path": request.path, **request.query})
        user_id = int(request.match_info["id"])
        if user_id == BROKEN_USER:
            return web.Response(status=500, text="Internal Server Error")
        if user_id == SLOW_USER:
            await asyncio.sleep(SLOW_ANSWER_S)
        if user_id != USER_ID:
            return error(404, "user_not_found", "no such user")
        if self.malformed:
            return web.json_response({"unexpected": True})
        return web.json_response(payload)

    async def get_profile(self, request: web.Request) -> web.Response:
        return await self._answer(request, profile(USER_ID))

    async def get_activity(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "10"))
        return await self._answer(request, {"items": activity(USER_ID, limit)})

    async def healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})


def user_settings(db_url: str) -> Settings:
    """User service settings aimed at ``db_url`` (timeouts only the budget can cut)."""
    service = ServiceSettings(name="user", port=8083, http_timeout_s=TIMEOUT_S)
    return Settings(service=service, db_url=db_url)
