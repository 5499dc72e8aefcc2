"""The admin API every service mounts: switch workshop scenarios at runtime.

``GET /admin/scenarios`` lists the catalog with each scenario's state;
``GET|PUT|DELETE /admin/scenarios/<name>`` reads, switches on (optional JSON
body ``{"params": {...}}``) or switches off one scenario.

Trust model: every call needs the shared admin token in the
``X-Tracelab-Admin-Token`` header (``TRACELAB_ADMIN_TOKEN``; a published
development default otherwise, warned about on first use). A missing token is
401, a wrong one 403; tokens are compared in constant time. Admin calls are
excluded from tracing, so switching a scenario never shows up in the traces
under study. The frontend never proxies this API to the internet: its lab
console calls it server-side (see services.frontend.lab).
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from services.common import faults
from services.common.config import env_str
from services.common.errors import ApiError, NotFound, Unauthorized

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/admin/"
SCENARIOS_PATH = "/admin/scenarios"
TOKEN_HEADER = "X-Tracelab-Admin-Token"
TOKEN_ENV = "TRACELAB_ADMIN_TOKEN"
DEVELOPMENT_ADMIN_TOKEN = "tracelab-admin-development-token"


def admin_token() -> str:
    """The shared admin token (``TRACELAB_ADMIN_TOKEN`` or the development default)."""
    return env_str(TOKEN_ENV, DEVELOPMENT_ADMIN_TOKEN)


_warned: list[bool] = []


def _warn_once_about_development_token() -> None:
    if not _warned:
        _warned.append(True)
        log.warning("the admin API accepted the development token: set TRACELAB_ADMIN_TOKEN")


def authorize(presented: str | None) -> None:
    """Raise 401 without a token and 403 with a wrong one (constant-time compare)."""
    if not presented:
        raise Unauthorized(f"admin API needs the {TOKEN_HEADER} header", "admin_token_missing")
    if not hmac.compare_digest(presented.encode(), admin_token().encode()):
        raise ApiError(403, "admin_token_invalid", "the admin token is not valid")
    if presented == DEVELOPMENT_ADMIN_TOKEN:
        _warn_once_about_development_token()


def decode_body(raw: bytes) -> Any:
    """The JSON of a switch request's body (None when empty; 400 when not JSON)."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(400, "malformed_json", "request body is not valid JSON") from None


def _params_from(body: Any) -> dict[str, Any] | None:
    if body is None:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("params", {}), dict):
        raise ApiError(422, "validation_failed", 'body must be {"params": {...}}')
    return body.get("params") or None


def listing(service: str) -> dict[str, Any]:
    """The body of ``GET /admin/scenarios``."""
    return {"service": service, "scenarios": faults.REGISTRY.describe(service)}


def state(service: str, name: str) -> dict[str, Any]:
    """The body describing one scenario (404 for an unknown name)."""
    for entry in faults.REGISTRY.describe(service):
        if entry["name"] == name:
            return {"service": service, **entry}
    raise NotFound(f"no scenario {name!r}", "unknown_scenario")


def switch(service: str, method: str, name: str, body: Any) -> dict[str, Any]:
    """Apply ``PUT`` (on) or ``DELETE`` (off) to scenario ``name``; return its state."""
    state(service, name)
    if method == "PUT":
        try:
            faults.REGISTRY.enable(name, _params_from(body))
        except ValueError as exc:
            raise ApiError(422, "validation_failed", str(exc)) from None
    elif method == "DELETE":
        faults.REGISTRY.disable(name)
    return state(service, name)
