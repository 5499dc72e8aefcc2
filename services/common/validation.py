"""Parse and validate JSON request bodies the same way in every framework."""

from __future__ import annotations

import json
from typing import Any

from services.common.errors import ApiError, BadRequest, ValidationFailed

MAX_FIELD_LENGTH = 1024


def parse_json_object(raw: bytes, content_type: str | None, max_bytes: int) -> dict[str, Any]:
    """Decode ``raw`` as a JSON object, raising 413/415/400 for unusable bodies."""
    if len(raw) > max_bytes:
        raise ApiError(413, "payload_too_large", f"request body exceeds {max_bytes} bytes")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "request body must be application/json")
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}", "malformed_json") from None
    if not isinstance(value, dict):
        raise BadRequest("request body must be a JSON object", "malformed_json")
    return value


def require_fields(body: dict[str, Any], fields: dict[str, type]) -> dict[str, Any]:
    """Return the named fields, raising 422 listing every missing or mistyped one."""
    problems: list[dict[str, str]] = []
    for name, expected in fields.items():
        if name not in body:
            problems.append({"field": name, "problem": "is required"})
            continue
        value = body[name]
        # bool is a subclass of int; a JSON true is never a valid number here.
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            problems.append({"field": name, "problem": f"must be of type {expected.__name__}"})
        elif isinstance(value, str) and not value.strip():
            problems.append({"field": name, "problem": "must not be empty"})
        elif isinstance(value, str) and len(value) > MAX_FIELD_LENGTH:
            problems.append({"field": name, "problem": f"longer than {MAX_FIELD_LENGTH}"})
    if problems:
        names = ", ".join(p["field"] for p in problems)
        raise ValidationFailed(f"invalid fields: {names}", problems)
    return {name: body[name] for name in fields}


def parse_positive_int(raw: str, what: str) -> int:
    """Parse a path or query parameter as a positive integer, or raise 400."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"{what} must be a positive integer", "invalid_parameter") from None
    if value < 1 or value > 2**31 - 1:
        raise BadRequest(f"{what} must be a positive integer", "invalid_parameter")
    return value
