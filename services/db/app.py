"""Build the db service's Flask application."""

from __future__ import annotations

from flask import Flask
from psycopg_pool import ConnectionPool

from services.common.flask_support import create_flask_app
from services.db import routes
from services.db.settings import Settings
from services.db.store import UserStore, build_pool

POOL_EXTENSION = "tracelab.db.pool"


def create_app(settings: Settings, pool: ConnectionPool | None = None) -> Flask:
    """The db service app.

    Without ``pool`` a pool is built from ``settings`` and opened without
    waiting (readiness reports the database until it answers). Build the app
    after ``telemetry.init``: the psycopg instrumentation only traces
    connections made after it. A given ``pool`` is used as it is, opened or
    not (tests pass one that never opens); its owner closes it.
    """
    if pool is None:
        pool = build_pool(settings)
        pool.open(wait=False)
    store = UserStore(
        pool,
        wait_span_ms=settings.pool_wait_span_ms,
        statement_timeout_ms=settings.statement_timeout_ms,
    )
    app = create_flask_app(
        __name__, settings.service, readiness=lambda: {"postgresql": store.ping()}
    )
    app.extensions[POOL_EXTENSION] = pool
    routes.register(app, store, settings.service.max_body_bytes)
    return app


def app_pool(app: Flask) -> ConnectionPool:
    """The connection pool ``app`` queries through."""
    return app.extensions[POOL_EXTENSION]
