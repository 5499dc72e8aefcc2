"""Typed client of the gateway, for its callers (the frontend, Flask: synchronous)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.http import SyncJsonClient
from services.common.models import Activity, LoginResult, UserProfile, malformed_answer


@dataclass(frozen=True)
class Dashboard:
    """The caller's profile and latest activity."""

    profile: UserProfile
    activity: list[Activity]


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
        return LoginResult.from_json(payload, self.service)

    def get_user(self, user_id: int, authorization: str | None) -> UserProfile:
        """The profile of ``user_id`` (401 without a valid token, 404 when unknown)."""
        payload = self._http.request(
            "GET", f"/api/users/{user_id}", headers=_auth_headers(authorization)
        )
        return UserProfile.from_json(payload, self.service)

    def dashboard(self, authorization: str | None) -> Dashboard:
        """The dashboard of the token's user (401 without a valid token)."""
        payload = self._http.request("GET", "/api/dashboard", headers=_auth_headers(authorization))
        activity = payload.get("activity") if isinstance(payload, dict) else None
        if not isinstance(activity, list):
            raise malformed_answer(self.service, "dashboard")
        return Dashboard(
            profile=UserProfile.from_json(payload.get("profile"), self.service),
            activity=[Activity.from_json(item, self.service) for item in activity],
        )

    def healthy(self) -> bool:
        """True when the gateway's ``/healthz`` answers 200."""
        return self._http.healthy()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()
