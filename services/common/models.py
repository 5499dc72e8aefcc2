"""Data shapes that several services exchange, parsed once for every client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.common.errors import ApiError


def malformed_answer(service: str, what: str) -> ApiError:
    """The 502 a client raises when ``service`` answered with an unusable body."""
    return ApiError(502, "bad_gateway", f"{service} sent a malformed {what}")


@dataclass(frozen=True)
class LoginResult:
    """A fresh token for ``user_id`` (kept out of reprs and logs)."""

    token: str = field(repr=False)
    user_id: int

    @classmethod
    def from_json(cls, payload: Any, service: str) -> LoginResult:
        """Parse a login answer sent by ``service`` (502 on a bad shape)."""
        try:
            return cls(token=str(payload["token"]), user_id=int(payload["user_id"]))
        except (KeyError, TypeError, ValueError):
            raise malformed_answer(service, "login answer") from None


@dataclass(frozen=True)
class UserProfile:
    """A user's public profile (``created_at`` is ISO 8601, UTC)."""

    id: int
    email: str
    name: str
    created_at: str

    @classmethod
    def from_json(cls, payload: Any, service: str) -> UserProfile:
        """Parse a profile sent by ``service`` (502 on a bad shape)."""
        try:
            return cls(
                id=int(payload["id"]),
                email=str(payload["email"]),
                name=str(payload["name"]),
                created_at=str(payload["created_at"]),
            )
        except (KeyError, TypeError, ValueError):
            raise malformed_answer(service, "profile") from None


@dataclass(frozen=True)
class Activity:
    """One entry of a user's activity feed (``created_at`` is ISO 8601, UTC)."""

    id: int
    kind: str
    detail: str
    created_at: str

    @classmethod
    def from_json(cls, payload: Any, service: str) -> Activity:
        """Parse one activity entry sent by ``service`` (502 on a bad shape)."""
        try:
            return cls(
                id=int(payload["id"]),
                kind=str(payload["kind"]),
                detail=str(payload["detail"]),
                created_at=str(payload["created_at"]),
            )
        except (KeyError, TypeError, ValueError):
            raise malformed_answer(service, "activity entry") from None


def activity_list(payload: Any, service: str) -> list[Activity]:
    """Parse ``{"items": [...]}`` as sent by ``service`` (502 on a bad shape)."""
    items = payload.get("items") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise malformed_answer(service, "activity list")
    return [Activity.from_json(item, service) for item in items]
