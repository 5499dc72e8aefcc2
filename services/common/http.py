"""Traced JSON-over-HTTP clients with timeouts and uniform error mapping.

The instrumentation libraries (requests, aiohttp client) make the client
spans and inject ``traceparent``/``baggage``; this module adds timeouts and
turns every downstream failure into an :class:`ApiError` the caller's
handler returns as JSON: a downstream 4xx keeps its status and code, a 5xx
becomes 502, a timeout 504 and a refused connection 503.
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

from services.common.errors import ApiError, status_code_name

log = logging.getLogger(__name__)


def downstream_error(service: str, status: int, payload: Any) -> ApiError:
    """Map a downstream error response to the error this service returns."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if 400 <= status < 500:
        if isinstance(error, dict):
            return ApiError(
                status,
                str(error.get("code") or status_code_name(status)),
                str(error.get("message") or f"{service} refused the request"),
                details=error.get("details"),
            )
        return ApiError(status, status_code_name(status), f"{service} refused the request")
    return ApiError(502, "bad_gateway", f"{service} failed with status {status}")


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
        ``resend_count`` > 0 marks the call's client span as a retry.
        """
        timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else self.timeout
        try:
            async with self._client_session().request(
                method,
                self.base_url + path,
                json=json_body,
                headers=headers,
                params=params,
                timeout=timeout,
                trace_request_ctx={"resend_count": resend_count},
            ) as response:
                body = await response.read()
        except TimeoutError:
            raise _record(ApiError(504, "gateway_timeout", f"{self.service} timed out")) from None
        except aiohttp.ClientError as exc:
            raise _unreachable(self.service, exc) from None
        payload = _decode(body)
        if response.status >= 400:
            raise _record(downstream_error(self.service, response.status, payload))
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
        ``http.request.resend_count`` (1, 2, ...). The last failure is raised.
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
                if exc.status not in RETRYABLE_STATUSES or resend_count + 1 >= attempts:
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
        """Send one request and return the decoded JSON body of a 2xx answer."""
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                json=json_body,
                headers=headers,
                params=params,
                timeout=self.timeout_s,
            )
        except requests.Timeout:
            raise _record(ApiError(504, "gateway_timeout", f"{self.service} timed out")) from None
        except requests.RequestException as exc:
            raise _unreachable(self.service, exc) from None
        payload = _decode(response.content)
        if response.status_code >= 400:
            raise _record(downstream_error(self.service, response.status_code, payload))
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
