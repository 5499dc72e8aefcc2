"""Build the user service's aiohttp application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from services.common.aiohttp_support import create_aiohttp_app
from services.db.client import DbAsyncClient, DbSyncClient
from services.user.partner import Partner
from services.user.routes import DB_CLIENT, DB_SYNC_CLIENT, PARTNER, add_routes
from services.user.settings import Settings


def create_app(settings: Settings) -> web.Application:
    """The user service app; its db client lives from startup to cleanup."""

    async def readiness() -> Mapping[str, bool]:
        return {"db": await app[DB_CLIENT].healthy()}

    app = create_aiohttp_app(settings.service, readiness)

    async def db_client(app: web.Application) -> AsyncIterator[None]:
        app[DB_CLIENT] = DbAsyncClient(settings.db_url, settings.service.http_timeout_s)
        app[DB_SYNC_CLIENT] = DbSyncClient(settings.db_url, settings.service.http_timeout_s)
        app[PARTNER] = Partner()
        yield
        await app[PARTNER].close()
        await app[DB_CLIENT].close()
        app[DB_SYNC_CLIENT].close()

    app.cleanup_ctx.append(db_client)
    add_routes(app)
    return app
