"""The admin API every service mounts: switch workshop scenarios at runtime.

``GET /admin/scenarios`` lists the catalog with each scenario's state;
``GET|PUT|DELETE /admin/scenarios/<name>`` reads, switches on (optional JSON
body ``{"params": {...}}``) or switches off one scenario.

Trust model: every call needs the shared admin token in the
``X-Tracelab-Admin-Token`` header. The token is ``TRACELAB_ADMIN_TOKEN``, or
the contents of the file ``TRACELAB_ADMIN_TOKEN_FILE`` names (a Compose or
Kubernetes secret); there is no default: a service given no token refuses
every admin call (403 ``admin_disabled``). The local stack generates one per
stack (``.run/secrets/admin-token``). A missing header is 401, a wrong token
403; tokens are compared in constant time. Admin calls are excluded from
tracing, so switching a scenario never shows up in the traces under study.
The public frontend does not serve this API at all; the tracelab console
calls the other services' admin API server-side.
"""

from __future__ import annotations

import hmac
import json
import logging
from pathlib import Path
from typing import Any

from services.common import faults
from services.common.config import env_str
from services.common.errors import ApiError, NotFound, Unauthorized

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/admin/"
SCENARIOS_PATH = "/admin/scenarios"
TOKEN_HEADER = "X-Tracelab-Admin-Token"
TOKEN_ENV = "TRACELAB_ADMIN_TOKEN"
TOKEN_FILE_ENV = "TRACELAB_ADMIN_TOKEN_FILE"


def admin_token() -> str | None:
    """The shared admin token: ``TRACELAB_ADMIN_TOKEN``, else ``TRACELAB_ADMIN_TOKEN_FILE``'s.

    None when neither is set (or the file is unreadable or empty): the admin API is off.
    """
    token = env_str(TOKEN_ENV, "")
    if token:
        return token
    path = env_str(TOKEN_FILE_ENV, "")
    if not path:
        return None
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        log.warning("cannot read the admin token file %s: the admin API is off", path)
        return None


def authorize(presented: str | None) -> None:
    """403 when this service has no token, 401 without a token, 403 with a wrong one."""
    expected = admin_token()
    if expected is None:
        raise ApiError(
            403,
            "admin_disabled",
            f"this service has no admin token ({TOKEN_ENV} or {TOKEN_FILE_ENV}): "
            "its admin API is off",
        )
    if not presented:
        raise Unauthorized(f"admin API needs the {TOKEN_HEADER} header", "admin_token_missing")
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ApiError(403, "admin_token_invalid", "the admin token is not valid")


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
    """The body describing one scenario (404 naming the known ones for an unknown name)."""
    try:
        faults.REGISTRY.scenario(name)
    except faults.UnknownScenario as exc:
        raise NotFound(str(exc), "unknown_scenario") from None
    entry = next(e for e in faults.REGISTRY.describe(service) if e["name"] == name)
    return {"service": service, **entry}


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
