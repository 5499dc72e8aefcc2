"""Typed client of the gateway, for its callers (the frontend, Flask: synchronous)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.common.errors import ApiError
from services.common.http import SyncJsonClient
from services.user.client import Activity, UserProfile


@dataclass(frozen=True)
class LoginResult:
    """A fresh token for ``user_id`` (kept out of reprs and logs)."""

    token: str = field(repr=False)
    user_id: int


@dataclass(frozen=True)
class Dashboard:
    """The caller's profile and latest activity."""

    profile: UserProfile
    activity: list[Activity]


def _bad_answer(service: str, what: str) -> ApiError:
    return ApiError(502, "bad_gateway", f"{service} answered with a malformed {what}")


def _auth_headers(authorization: str | None) -> dict[str, str]:
    return {"Authorization": authorization} if authorization else {}


class GatewayClient:
    """Calls the gateway; failures raise :class:`ApiError` (see services.common.http).

    ``authorization`` arguments are the caller's ``Authorization`` header,
    passed on unchanged so the gateway can verify it with auth.
    """

    # The name in error messages; the frontend's client reuses this class (same API).
    service = "gateway"

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self._http = SyncJsonClient(self.service, base_url, timeout_s)

    def login(self, email: str, password: str) -> LoginResult:
        """Exchange credentials for a token (401 on bad credentials)."""
        payload: Any = self._http.request(
            "POST", "/api/login", json_body={"email": email, "password": password}
        )
        try:
            return LoginResult(token=str(payload["token"]), user_id=int(payload["user_id"]))
        except (KeyError, TypeError, ValueError):
            raise _bad_answer(self.service, "login answer") from None

    def get_user(self, user_id: int, authorization: str | None) -> UserProfile:
        """The profile of ``user_id`` (401 without a valid token, 404 when unknown)."""
        payload = self._http.request(
            "GET", f"/api/users/{user_id}", headers=_auth_headers(authorization)
        )
        return UserProfile.from_json(payload)

    def dashboard(self, authorization: str | None) -> Dashboard:
        """The dashboard of the token's user (401 without a valid token)."""
        payload = self._http.request("GET", "/api/dashboard", headers=_auth_headers(authorization))
        activity = payload.get("activity") if isinstance(payload, dict) else None
        if not isinstance(activity, list):
            raise _bad_answer(self.service, "dashboard")
        return Dashboard(
            profile=UserProfile.from_json(payload.get("profile")),
            activity=[Activity.from_json(item) for item in activity],
        )

    def healthy(self) -> bool:
        """True when the gateway's ``/healthz`` answers 200."""
        return self._http.healthy()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()
