"""Traced JSON-over-HTTP clients with timeouts and uniform error mapping.

The instrumentation libraries (requests, aiohttp client) make the client
spans and inject ``traceparent``/``baggage``; this module adds timeouts cut
to the request's budget (``services.common.deadline``, whose header every
call carries) and turns every downstream failure into an :class:`ApiError`
the caller's handler returns as JSON (the table in docs/architecture.md):

- a downstream 4xx keeps its status, code and message, never its ``details``;
- a downstream 503 stays 503 (with ``Retry-After``), 504 stays 504 and 502
  stays 502, each with its code and message;
- any other 5xx becomes 502, as does an answer that is not what was asked;
- a refused connection is 503 (with ``Retry-After``), a timeout 504.
"""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace
from typing import Any

import aiohttp
import requests
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation

from services.common import deadline
from services.common.errors import ApiError, status_code_name

log = logging.getLogger(__name__)

# Downstream 5xx statuses passed on as they are; every other 5xx becomes 502.
_KEPT_5XX = {
    502: ("bad_gateway", "sent a bad answer"),
    503: ("service_unavailable", "is unavailable"),
    504: ("gateway_timeout", "timed out"),
}


def _retry_after(value: str | None) -> int | None:
    try:
        seconds = int(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds <= 3600 else None


def downstream_error(
    service: str, status: int, payload: Any, retry_after: str | None = None
) -> ApiError:
    """Map a downstream error response to the error this service returns.

    ``retry_after`` is the answer's ``Retry-After`` header, kept on a 503.
    The downstream ``details`` are dropped: they describe an internal call,
    which an internet caller has no business seeing.
    """
    error = payload.get("error") if isinstance(payload, dict) else None
    error = error if isinstance(error, dict) else {}
    if 400 <= status < 500:
        default_code, default_message = status_code_name(status), f"{service} refused the request"
    elif status in _KEPT_5XX:
        default_code, suffix = _KEPT_5XX[status]
        default_message = f"{service} {suffix}"
    else:
        return ApiError(502, "bad_gateway", f"{service} failed with status {status}")
    return ApiError(
        status,
        str(error.get("code") or default_code),
        str(error.get("message") or default_message),
        retry_after=_retry_after(retry_after) if status == 503 else None,
    )


def _record(exc: ApiError) -> ApiError:
    # The client span of the failed call is already closed; the span that
    # "saw" the failure is the caller's current one.
    span = trace.get_current_span()
    if exc.status >= 500:
        span.record_exception(exc)
    return exc


def _unreachable(service: str, exc: Exception) -> ApiError:
    # The connection error names internal hosts and ports: log it, but never
    # hand it to a caller that may be on the internet.
    log.warning("%s unreachable: %s", service, exc)
    return _record(ApiError(503, "service_unavailable", f"{service} is unreachable"))


# Semantic conventions: the ordinal of a resent request, on its client span.
RESEND_COUNT = "http.request.resend_count"
RETRYABLE_STATUSES = frozenset({503, 504})


async def _mark_resend(
    _session: aiohttp.ClientSession,
    context: SimpleNamespace,
    _params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    # Runs after the instrumentation made the client span current (on_request_start).
    resend_count = (context.trace_request_ctx or {}).get("resend_count", 0)
    if resend_count:
        trace.get_current_span().set_attribute(RESEND_COUNT, resend_count)


def _resend_trace_config() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_request_headers_sent.append(_mark_resend)
    return config


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


class AsyncJsonClient:
    """JSON client for aiohttp services; one session per client, closed by :meth:`close`."""

    def __init__(self, service: str, base_url: str, timeout_s: float) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, trace_configs=[_resend_trace_config()]
            )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        timeout_s: float | None = None,
        resend_count: int = 0,
    ) -> Any:
        """Send one request and return the decoded JSON body of a 2xx answer.

        ``timeout_s`` replaces the client's timeout for this call;
        ``resend_count`` > 0 marks the call's client span as a retry. Both
        are cut to the request's budget, which the call carries.
        """
        try:
            total, budget_header = deadline.for_call(self.service, timeout_s or self.timeout_s)
        except ApiError as exc:
            raise _record(exc) from None
        try:
            async with self._client_session().request(
                method,
                self.base_url + path,
                json=json_body,
                headers={**(headers or {}), **budget_header},
                params=params,
                timeout=aiohttp.ClientTimeout(total=total),
                trace_request_ctx={"resend_count": resend_count},
            ) as response:
                body = await response.read()
        except TimeoutError:
            raise _record(ApiError(504, "gateway_timeout", f"{self.service} timed out")) from None
        except aiohttp.ClientError as exc:
            raise _unreachable(self.service, exc) from None
        payload = _decode(body)
        if response.status >= 400:
            raise _record(
                downstream_error(
                    self.service, response.status, payload, response.headers.get("Retry-After")
                )
            )
        return payload

    async def request_retrying(
        self,
        method: str,
        path: str,
        *,
        attempts: int,
        attempt_timeout_s: float,
        params: dict[str, str] | None = None,
    ) -> Any:
        """:meth:`request` up to ``attempts`` times while it times out or gets 503/504.

        Every attempt is its own client span; retries carry
        ``http.request.resend_count`` (1, 2, ...). The last failure is raised,
        and no attempt is made once the request's budget is used up.
        """
        for resend_count in range(max(1, attempts)):
            try:
                return await self.request(
                    method,
                    path,
                    params=params,
                    timeout_s=attempt_timeout_s,
                    resend_count=resend_count,
                )
            except ApiError as exc:
                last = resend_count + 1 >= attempts
                if exc.status not in RETRYABLE_STATUSES or last or deadline.exhausted():
                    raise
                log.warning("%s %s attempt %d failed: retrying", method, path, resend_count + 1)
        raise AssertionError("unreachable")  # pragma: no cover

    async def healthy(self) -> bool:
        """True when the service's ``/healthz`` answers 200 (no spans are made)."""
        with suppress_instrumentation():
            try:
                async with self._client_session().get(self.base_url + "/healthz") as response:
                    return response.status == 200
            except (TimeoutError, aiohttp.ClientError, asyncio.CancelledError):
                return False

    async def close(self) -> None:
        """Close the underlying session."""
        if self._session is not None:
            await self._session.close()


class SyncJsonClient:
    """JSON client for Flask services (thread-safe enough: one pooled session)."""

    def __init__(self, service: str, base_url: str, timeout_s: float) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """Send one request and return the decoded JSON body of a 2xx answer.

        The timeout is cut to the request's budget, which the call carries.
        """
        try:
            timeout_s, budget_header = deadline.for_call(self.service, self.timeout_s)
        except ApiError as exc:
            raise _record(exc) from None
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                json=json_body,
                headers={**(headers or {}), **budget_header},
                params=params,
                timeout=timeout_s,
            )
        except requests.Timeout:
            raise _record(ApiError(504, "gateway_timeout", f"{self.service} timed out")) from None
        except requests.RequestException as exc:
            raise _unreachable(self.service, exc) from None
        payload = _decode(response.content)
        if response.status_code >= 400:
            raise _record(
                downstream_error(
                    self.service,
                    response.status_code,
                    payload,
                    response.headers.get("Retry-After"),
                )
            )
        return payload

    def healthy(self) -> bool:
        """True when the service's ``/healthz`` answers 200 (no spans are made)."""
        with suppress_instrumentation():
            try:
                response = self.session.get(self.base_url + "/healthz", timeout=self.timeout_s)
            except requests.RequestException:
                return False
            return response.status_code == 200

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()
