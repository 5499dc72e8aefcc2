"""Typed async client of the user service, used by the gateway."""

from __future__ import annotations

from services.common.http import AsyncJsonClient
from services.common.models import Activity, UserProfile, activity_list

DEFAULT_ACTIVITY_LIMIT = 10


SERVICE = "user"


class UserClient:
    """Calls the user service; failures raise :class:`ApiError` (see services.common.http)."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self._http = AsyncJsonClient(SERVICE, base_url, timeout_s)

    async def get_profile(self, user_id: int) -> UserProfile:
        """The profile of ``user_id`` (404 when unknown)."""
        return UserProfile.from_json(await self._http.request("GET", f"/users/{user_id}"), SERVICE)

    async def get_activity(
        self, user_id: int, limit: int = DEFAULT_ACTIVITY_LIMIT
    ) -> list[Activity]:
        """The latest ``limit`` activity entries of ``user_id``, newest first."""
        payload = await self._http.request(
            "GET", f"/users/{user_id}/activity", params={"limit": str(limit)}
        )
        return activity_list(payload, SERVICE)

    async def healthy(self) -> bool:
        """True when the user service's ``/healthz`` answers 200."""
        return await self._http.healthy()

    async def close(self) -> None:
        """Close the underlying HTTP session."""
        await self._http.close()
