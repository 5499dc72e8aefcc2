"""Typed client of the frontend's JSON API, for its callers (scripts, tools, tests).

The frontend's ``/api/*`` contract is the gateway's (docs/architecture.md),
so the client is the gateway's under the frontend's name.
"""

from __future__ import annotations

from services.gateway.client import Dashboard, GatewayClient, LoginResult

__all__ = ["Dashboard", "FrontendClient", "LoginResult"]


class FrontendClient(GatewayClient):
    """Calls the frontend: ``login``, ``get_user``, ``dashboard``, ``healthy``, ``close``."""

    service = "frontend"
