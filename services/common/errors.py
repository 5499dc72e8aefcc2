"""One error type and one JSON error body for every service."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from opentelemetry import trace

# Seconds a client should wait before trying again after a 503.
DEFAULT_RETRY_AFTER_S = 1


class ApiError(Exception):
    """An error that becomes a JSON response with ``status``, ``code`` and ``message``.

    A 503 always carries ``retry_after`` (seconds, ``Retry-After`` header):
    ``DEFAULT_RETRY_AFTER_S`` unless given.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        if retry_after is None and status == 503:
            retry_after = DEFAULT_RETRY_AFTER_S
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        """The response headers this error adds (``Retry-After`` for a 503)."""
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}

    def body(self) -> dict[str, Any]:
        """The JSON body of this error, carrying the current trace id."""
        return error_body(self.status, self.code, self.message, details=self.details)


def current_trace_id() -> str | None:
    """The hex trace id of the active span, or None outside a recorded trace."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def error_body(status: int, code: str, message: str, *, details: Any = None) -> dict[str, Any]:
    """Build ``{"error": {...}}`` as documented in docs/architecture.md."""
    error: dict[str, Any] = {"status": status, "code": code, "message": message}
    if details is not None:
        error["details"] = details
    trace_id = current_trace_id()
    if trace_id:
        error["trace_id"] = trace_id
    return {"error": error}


def status_code_name(status: int) -> str:
    """A snake_case code for an HTTP status, e.g. 404 -> ``not_found``."""
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


class BadRequest(ApiError):
    """400: the request could not be parsed."""

    def __init__(self, message: str, code: str = "bad_request") -> None:
        super().__init__(400, code, message)


class Unauthorized(ApiError):
    """401: missing, malformed, bad or expired credentials."""

    def __init__(self, message: str, code: str = "unauthorized") -> None:
        super().__init__(401, code, message)


class NotFound(ApiError):
    """404: the resource does not exist."""

    def __init__(self, message: str, code: str = "not_found") -> None:
        super().__init__(404, code, message)


class ValidationFailed(ApiError):
    """422: the JSON parsed but its fields are missing or of the wrong type."""

    def __init__(self, message: str, problems: list[dict[str, str]]) -> None:
        super().__init__(422, "validation_failed", message, details=problems)
