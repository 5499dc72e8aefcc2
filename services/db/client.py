"""Typed clients of the db service: sync for Flask callers (auth), async for aiohttp (user).

Both clients share one description of each call (:class:`_Call`: method,
path, body, and how to parse the answer), so paths and parsing live in one
place. Failures raise :class:`ApiError` as described in services.common.http.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from services.common.errors import ApiError
from services.common.http import AsyncJsonClient, SyncJsonClient
from services.common.models import Activity, UserProfile, activity_list, malformed_answer

T = TypeVar("T")

SERVICE = "db"
DEFAULT_ACTIVITY_LIMIT = 10


@dataclass(frozen=True)
class UserCredentials:
    """What auth needs to check a login; the hash stays out of reprs and logs."""

    id: int
    email: str
    password_hash: str = field(repr=False)


def _malformed(what: str) -> ApiError:
    return malformed_answer(SERVICE, what)


def _parse_credentials(payload: Any) -> UserCredentials:
    try:
        return UserCredentials(
            id=int(payload["id"]),
            email=str(payload["email"]),
            password_hash=str(payload["password_hash"]),
        )
    except (KeyError, TypeError, ValueError):
        raise _malformed("credentials answer") from None


def _parse_profile(payload: Any) -> UserProfile:
    return UserProfile.from_json(payload, SERVICE)


def _parse_activity(payload: Any) -> list[Activity]:
    return activity_list(payload, SERVICE)


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One db endpoint call: what to send and how to read the answer."""

    method: str
    path: str
    parse: Callable[[Any], T]
    json_body: Any = None
    params: dict[str, str] | None = None
    # The result of a 404 for calls where it only means "no such user".
    on_not_found: Callable[[], T] | None = None

    def failed(self, exc: ApiError) -> T:
        """The result of a tolerated 404; any other failure is raised again."""
        if exc.status == 404 and self.on_not_found is not None:
            return self.on_not_found()
        raise exc


def _no_user() -> None:
    return None


def _lookup(email: str) -> _Call[UserCredentials | None]:
    body = {"email": email}
    return _Call("POST", "/users/lookup", _parse_credentials, body, on_not_found=_no_user)


def _profile(user_id: int) -> _Call[UserProfile]:
    return _Call("GET", f"/users/{int(user_id)}", _parse_profile)


def _parse_ids(payload: Any) -> list[int]:
    ids = payload.get("ids") if isinstance(payload, dict) else None
    if not isinstance(ids, list):
        raise _malformed("activity id list")
    try:
        return [int(item) for item in ids]
    except (TypeError, ValueError):
        raise _malformed("activity id list") from None


def _parse_entry(payload: Any) -> Activity:
    return Activity.from_json(payload, SERVICE)


def _activity_ids(user_id: int, limit: int) -> _Call[list[int]]:
    path = f"/users/{int(user_id)}/activity/ids"
    return _Call("GET", path, _parse_ids, params={"limit": str(limit)})


def _activity_entry(activity_id: int) -> _Call[Activity]:
    return _Call("GET", f"/activity/{int(activity_id)}", _parse_entry)


def _activity(user_id: int, limit: int) -> _Call[list[Activity]]:
    return _Call(
        "GET", f"/users/{int(user_id)}/activity", _parse_activity, params={"limit": str(limit)}
    )


class DbSyncClient:
    """Blocking client of the db service (for Flask services such as auth)."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self._http = SyncJsonClient(SERVICE, base_url, timeout_s)

    def _run(self, call: _Call[T]) -> T:
        try:
            payload = self._http.request(
                call.method, call.path, json_body=call.json_body, params=call.params
            )
        except ApiError as exc:
            return call.failed(exc)
        return call.parse(payload)

    def lookup_credentials(self, email: str) -> UserCredentials | None:
        """The credentials of the user with ``email``, or None when there is none."""
        return self._run(_lookup(email))

    def get_profile(self, user_id: int) -> UserProfile:
        """The profile of ``user_id`` (ApiError 404 when unknown)."""
        return self._run(_profile(user_id))

    def get_activity(self, user_id: int, limit: int = DEFAULT_ACTIVITY_LIMIT) -> list[Activity]:
        """The newest ``limit`` (1..100) activity entries of ``user_id`` (404 when unknown)."""
        return self._run(_activity(user_id, limit))

    def healthy(self) -> bool:
        """True when the db service's ``/healthz`` answers 200."""
        return self._http.healthy()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()


class DbAsyncClient:
    """Asyncio client of the db service (for aiohttp services such as user)."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self._http = AsyncJsonClient(SERVICE, base_url, timeout_s)

    async def _run(self, call: _Call[T]) -> T:
        try:
            payload = await self._http.request(
                call.method, call.path, json_body=call.json_body, params=call.params
            )
        except ApiError as exc:
            return call.failed(exc)
        return call.parse(payload)

    async def lookup_credentials(self, email: str) -> UserCredentials | None:
        """The credentials of the user with ``email``, or None when there is none."""
        return await self._run(_lookup(email))

    async def get_profile(self, user_id: int) -> UserProfile:
        """The profile of ``user_id`` (ApiError 404 when unknown)."""
        return await self._run(_profile(user_id))

    async def get_activity(
        self, user_id: int, limit: int = DEFAULT_ACTIVITY_LIMIT
    ) -> list[Activity]:
        """The newest ``limit`` (1..100) activity entries of ``user_id`` (404 when unknown)."""
        return await self._run(_activity(user_id, limit))

    async def get_activity_retrying(
        self, user_id: int, limit: int, *, attempts: int, attempt_timeout_s: float
    ) -> list[Activity]:
        """:meth:`get_activity`, retried on timeouts (each attempt its own client span)."""
        call = _activity(user_id, limit)
        payload = await self._http.request_retrying(
            call.method,
            call.path,
            params=call.params,
            attempts=attempts,
            attempt_timeout_s=attempt_timeout_s,
        )
        return call.parse(payload)

    async def get_activity_ids(
        self, user_id: int, limit: int = DEFAULT_ACTIVITY_LIMIT
    ) -> list[int]:
        """The ids of the newest ``limit`` activity entries of ``user_id`` (404 when unknown)."""
        return await self._run(_activity_ids(user_id, limit))

    async def get_activity_entry(self, activity_id: int) -> Activity:
        """One activity entry by id (404 when unknown)."""
        return await self._run(_activity_entry(activity_id))

    async def healthy(self) -> bool:
        """True when the db service's ``/healthz`` answers 200."""
        return await self._http.healthy()

    async def close(self) -> None:
        """Close the underlying HTTP session."""
        await self._http.close()
