"""Build the frontend's Flask application."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, Response

from services.common.flask_support import create_flask_app
from services.frontend.edge import install_edge_trust
from services.frontend.routes import add_routes
from services.frontend.settings import Settings
from services.gateway.client import GatewayClient


def create_app(settings: Settings, gateway: GatewayClient | None = None) -> Flask:
    """The frontend app; ``gateway`` defaults to a client of ``settings.gateway_url``."""
    client = gateway or GatewayClient(settings.gateway_url, settings.service.http_timeout_s)

    def readiness() -> Mapping[str, bool]:
        return {"gateway": client.healthy()}

    # import_name is this package's, so Flask finds templates/ and static/ beside it.
    app = create_flask_app("services.frontend", settings.service, readiness, edge=True)
    app.after_request(_nosniff)
    add_routes(app, settings, client)
    install_edge_trust(app, settings.trust_traceparent)
    return app


def _nosniff(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
