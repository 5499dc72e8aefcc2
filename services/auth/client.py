"""Typed async client of the auth service, used by the gateway."""

from __future__ import annotations

from typing import Any

from services.common.errors import ApiError
from services.common.http import AsyncJsonClient
from services.common.models import LoginResult, malformed_answer

SERVICE = "auth"


def _malformed(what: str) -> ApiError:
    return malformed_answer(SERVICE, what)


class AuthClient:
    """Calls auth; failures raise :class:`ApiError` (its 401s keep their code)."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self._http = AsyncJsonClient(SERVICE, base_url, timeout_s)

    async def login(self, email: str, password: str) -> LoginResult:
        """Exchange credentials for a token (401 ``invalid_credentials`` when wrong)."""
        payload: Any = await self._http.request(
            "POST", "/login", json_body={"email": email, "password": password}
        )
        return LoginResult.from_json(payload, SERVICE)

    async def verify(self, authorization: str | None) -> int:
        """The user id of the caller's ``Authorization`` header value.

        The header is passed on unchanged, absent or not: auth alone decides,
        answering 401 ``missing_token``, ``invalid_token`` or ``token_expired``.
        """
        headers = {"Authorization": authorization} if authorization else {}
        payload: Any = await self._http.request("POST", "/verify", headers=headers)
        try:
            return int(payload["user_id"])
        except (KeyError, TypeError, ValueError):
            raise _malformed("verify answer") from None

    async def healthy(self) -> bool:
        """True when auth's ``/healthz`` answers 200."""
        return await self._http.healthy()

    async def close(self) -> None:
        """Close the underlying HTTP session."""
        await self._http.close()
