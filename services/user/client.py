"""Typed async client of the user service, used by the gateway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.errors import ApiError
from services.common.http import AsyncJsonClient

DEFAULT_ACTIVITY_LIMIT = 10


@dataclass(frozen=True)
class UserProfile:
    """A user's public profile."""

    id: int
    email: str
    name: str
    created_at: str

    @classmethod
    def from_json(cls, payload: Any) -> UserProfile:
        """Build a profile from the user service's JSON (502 on a bad shape)."""
        try:
            return cls(
                id=int(payload["id"]),
                email=str(payload["email"]),
                name=str(payload["name"]),
                created_at=str(payload["created_at"]),
            )
        except (KeyError, TypeError, ValueError):
            raise _bad_answer("profile") from None


@dataclass(frozen=True)
class Activity:
    """One entry of a user's activity feed."""

    id: int
    kind: str
    detail: str
    created_at: str

    @classmethod
    def from_json(cls, payload: Any) -> Activity:
        """Build an activity entry from the user service's JSON (502 on a bad shape)."""
        try:
            return cls(
                id=int(payload["id"]),
                kind=str(payload["kind"]),
                detail=str(payload["detail"]),
                created_at=str(payload["created_at"]),
            )
        except (KeyError, TypeError, ValueError):
            raise _bad_answer("activity") from None


def _bad_answer(what: str) -> ApiError:
    return ApiError(502, "bad_gateway", f"a downstream service sent a malformed {what}")


class UserClient:
    """Calls the user service; failures raise :class:`ApiError` (see services.common.http)."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self._http = AsyncJsonClient("user", base_url, timeout_s)

    async def get_profile(self, user_id: int) -> UserProfile:
        """The profile of ``user_id`` (404 when unknown)."""
        return UserProfile.from_json(await self._http.request("GET", f"/users/{user_id}"))

    async def get_activity(
        self, user_id: int, limit: int = DEFAULT_ACTIVITY_LIMIT
    ) -> list[Activity]:
        """The latest ``limit`` activity entries of ``user_id``, newest first."""
        payload = await self._http.request(
            "GET", f"/users/{user_id}/activity", params={"limit": str(limit)}
        )
        items = payload.get("items") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            raise _bad_answer("activity list")
        return [Activity.from_json(item) for item in items]

    async def healthy(self) -> bool:
        """True when the user service's ``/healthz`` answers 200."""
        return await self._http.healthy()

    async def close(self) -> None:
        """Close the underlying HTTP session."""
        await self._http.close()
