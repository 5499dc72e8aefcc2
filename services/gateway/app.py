"""Build the gateway's aiohttp application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from services.auth.client import AuthClient
from services.common.aiohttp_support import create_aiohttp_app
from services.gateway.routes import AUTH_CLIENT, MAX_BODY_BYTES, USER_CLIENT, add_routes
from services.gateway.settings import Settings
from services.user.client import UserClient


def create_app(settings: Settings) -> web.Application:
    """The gateway app; its auth and user clients live from startup to cleanup."""

    async def readiness() -> Mapping[str, bool]:
        auth_ok, user_ok = await asyncio.gather(
            app[AUTH_CLIENT].healthy(), app[USER_CLIENT].healthy()
        )
        return {"auth": auth_ok, "user": user_ok}

    app = create_aiohttp_app(settings.service, readiness)
    app[MAX_BODY_BYTES] = settings.service.max_body_bytes

    async def clients(app: web.Application) -> AsyncIterator[None]:
        timeout_s = settings.service.http_timeout_s
        app[AUTH_CLIENT] = AuthClient(settings.auth_url, timeout_s)
        app[USER_CLIENT] = UserClient(settings.user_url, timeout_s)
        yield
        await asyncio.gather(app[AUTH_CLIENT].close(), app[USER_CLIENT].close())

    app.cleanup_ctx.append(clients)
    add_routes(app)
    return app
