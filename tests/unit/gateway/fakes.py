"""Real in-process fake auth and user servers speaking our services' JSON contracts.

The fakes speak the JSON contracts of docs/architecture.md. They are built
after telemetry.init (tests/unit/conftest.py), so the aiohttp server
instrumentation traces them with the same provider as the gateway: one test
sees the whole trace, fakes included.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

from aiohttp import web

from services.common.config import ServiceSettings
from services.common.deadline import BUDGET_HEADER
from services.gateway.settings import Settings

GOOD_TOKEN = "good-token-7"
SLOW_TOKEN = "slow-token"
BROKEN_TOKEN = "broken-token"
USER_ID = 7
PASSWORD = "correct horse battery staple"
EMAIL = "user0007@tracelab.test"
MISSING_USER = 404404
BROKEN_USER = 500500
SLOW_USER = 504504
# The gateway's call timeout: far above any answer of the fakes, so a busy
# machine never turns a success into a timeout. Timeout tests give their
# request a short budget instead, and the fakes answer it much later.
TIMEOUT_S = 5.0
SHORT_BUDGET = {BUDGET_HEADER: "300"}
SLOW_ANSWER_S = 1.2
MAX_BODY = 1024


def error(status: int, code: str, message: str) -> web.Response:
    """A JSON error in the common format, as our services send it."""
    body = {"error": {"status": status, "code": code, "message": message}}
    return web.json_response(body, status=status)


def profile(user_id: int) -> dict:
    """The profile the fake user service answers for ``user_id``."""
    return {
        "id": user_id,
        "email": f"user{user_id:04d}@tracelab.test",
        "name": f"User {user_id:04d}",
        "created_at": "2024-01-02T03:04:05+00:00",
    }


def activity(user_id: int, limit: int) -> list[dict]:
    """The activity the fake user service answers for ``user_id``."""
    return [
        {
            "id": user_id * 100 + n,
            "kind": "login",
            "detail": f"event {n}",
            "created_at": "2024-01-02T03:04:05+00:00",
        }
        for n in range(min(limit, 3))
    ]


@dataclass
class Seen:
    """What a fake server was asked: path and the headers that matter here."""

    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    traceparent: str | None


@dataclass
class FakeAuth:
    """auth's ``POST /login`` and ``POST /verify``."""

    seen: list[Seen] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/login", self.login)
        app.router.add_post("/verify", self.verify)
        app.router.add_get("/healthz", _healthz)
        return app

    async def login(self, request: web.Request) -> web.Response:
        _remember(self.seen, request)
        body = await request.json()
        if body == {"email": EMAIL, "password": PASSWORD}:
            return web.json_response({"token": GOOD_TOKEN, "user_id": USER_ID})
        return error(401, "invalid_credentials", "email or password is wrong")

    async def verify(self, request: web.Request) -> web.Response:
        _remember(self.seen, request)
        header = request.headers.get("Authorization", "")
        if header == f"Bearer {GOOD_TOKEN}":
            return web.json_response({"user_id": USER_ID})
        if header == f"Bearer {SLOW_TOKEN}":
            await asyncio.sleep(SLOW_ANSWER_S)
            return web.json_response({"user_id": USER_ID})
        if header == f"Bearer {BROKEN_TOKEN}":
            return web.Response(status=500, text="Internal Server Error")
        return error(401, "invalid_token", "token is not valid")


@dataclass
class FakeUser:
    """user's ``GET /users/{id}`` and ``GET /users/{id}/activity``.

    With ``barrier`` set, the profile and activity handlers each wait until
    both requests have arrived: a gateway calling them one after the other
    would time out instead of passing.
    """

    seen: list[Seen] = field(default_factory=list)
    barrier: asyncio.Barrier | None = None
    broken_activity: bool = False

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/users/{id}", self.get_profile)
        app.router.add_get("/users/{id}/activity", self.get_activity)
        app.router.add_get("/healthz", _healthz)
        return app

    async def _rendezvous(self) -> None:
        if self.barrier is not None:
            await asyncio.wait_for(self.barrier.wait(), timeout=5)

    async def get_profile(self, request: web.Request) -> web.Response:
        _remember(self.seen, request)
        await self._rendezvous()
        user_id = int(request.match_info["id"])
        if user_id == BROKEN_USER:
            return web.Response(status=500, text="Internal Server Error")
        if user_id == SLOW_USER:
            await asyncio.sleep(SLOW_ANSWER_S)
        if user_id != USER_ID:
            return error(404, "user_not_found", f"no user {user_id}")
        return web.json_response(profile(user_id))

    async def get_activity(self, request: web.Request) -> web.Response:
        _remember(self.seen, request)
        await self._rendezvous()
        if self.broken_activity:
            return web.Response(status=500, text="Internal Server Error")
        user_id = int(request.match_info["id"])
        return web.json_response({"items": activity(user_id, int(request.query["limit"]))})


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _remember(seen: list[Seen], request: web.Request) -> None:
    seen.append(
        Seen(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            authorization=request.headers.get("Authorization"),
            traceparent=request.headers.get("traceparent"),
        )
    )


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass
class Stack:
    """The gateway under test, its fakes and their base URLs."""

    auth: FakeAuth
    user: FakeUser
    auth_url: str
    user_url: str

    def settings(self, **overrides: str) -> Settings:
        """Gateway settings aimed at the fakes, with a tiny body limit for the tests."""
        service = ServiceSettings(
            name="gateway", port=8081, http_timeout_s=TIMEOUT_S, max_body_bytes=MAX_BODY
        )
        urls = {"auth_url": self.auth_url, "user_url": self.user_url, **overrides}
        return Settings(service=service, **urls)
