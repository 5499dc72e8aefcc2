"""Build the auth service's Flask application."""

from __future__ import annotations

import logging

from flask import Flask

from services.auth import routes
from services.auth.settings import Settings
from services.common.flask_support import create_flask_app
from services.db.client import DbSyncClient

log = logging.getLogger(__name__)

DB_CLIENT_EXTENSION = "tracelab.auth.db_client"


def create_app(settings: Settings) -> Flask:
    """The auth app; ``/readyz`` checks that the db service answers ``/healthz``."""
    if settings.uses_published_secret:
        log.warning(
            "AUTH_TOKEN_SECRET is a secret published in the tracelab repository: anyone can "
            "forge tokens; set your own"
        )
    db = DbSyncClient(settings.db_url, settings.service.http_timeout_s)
    app = create_flask_app(__name__, settings.service, readiness=lambda: {"db": db.healthy()})
    app.extensions[DB_CLIENT_EXTENSION] = db
    routes.register(app, settings, db)
    return app
