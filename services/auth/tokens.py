"""Issue and verify the HS256 JWTs auth hands out."""

from __future__ import annotations

import time
import uuid

import jwt

from services.common.errors import Unauthorized

ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["sub", "exp", "iat", "jti"]


class TokenExpired(Unauthorized):
    """401 ``token_expired``: the token was valid once."""

    def __init__(self) -> None:
        super().__init__("token has expired", "token_expired")


class InvalidToken(Unauthorized):
    """401 ``invalid_token``: malformed, forged, or missing a claim.

    The message never quotes the token or the library's own error.
    """

    def __init__(self, reason: str = "token is not valid") -> None:
        super().__init__(reason, "invalid_token")


def issue_token(user_id: int, secret: str, ttl_s: int, now: float | None = None) -> str:
    """A signed token for ``user_id`` valid for ``ttl_s`` seconds from ``now``."""
    issued_at = int(time.time() if now is None else now)
    claims = {
        "sub": str(user_id),
        "iat": issued_at,
        "exp": issued_at + ttl_s,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, secret: str) -> int:
    """The user id a valid ``token`` was issued for; raises TokenExpired or InvalidToken."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": _REQUIRED_CLAIMS}
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired() from None
    except jwt.InvalidTokenError:
        raise InvalidToken() from None
    subject = claims["sub"]
    well_formed = isinstance(subject, str) and subject.isascii() and subject.isdigit()
    if not well_formed or int(subject) < 1:
        raise InvalidToken("token subject is not a user id")
    return int(subject)
