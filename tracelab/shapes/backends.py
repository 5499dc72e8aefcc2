"""HTTP clients for the tracing backends' query APIs: Jaeger and Grafana Tempo.

Both return backend-neutral :class:`~tracelab.shapes.model.Trace` objects.
Spans reach a backend in batches, one per service process, so a trace fetched
right after a request may be incomplete: :meth:`BackendClient.wait_for_trace`
polls until the trace holds what the caller needs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import requests

from tracelab.shapes.from_jaeger import trace_from_jaeger
from tracelab.shapes.from_otlp import trace_from_otlp
from tracelab.shapes.ids import normalise_trace_id
from tracelab.shapes.model import Trace

DEFAULT_URLS = {"jaeger": "http://127.0.0.1:16686", "tempo": "http://127.0.0.1:3200"}


class BackendError(RuntimeError):
    """The backend could not be reached or gave an answer we cannot read."""


class TraceNotFound(BackendError):
    """The trace did not appear (or not completely) within the time allowed."""

    def __init__(self, backend: str, trace_id: str, seen: str) -> None:
        super().__init__(f"{backend}: trace {trace_id} not found as required: {seen}")
        self.backend = backend
        self.trace_id = trace_id
        self.seen = seen


def _describe(trace: Trace | None) -> str:
    if trace is None or not len(trace):
        return "the backend never returned it"
    services = ", ".join(sorted(trace.services)) or "-"
    return f"last fetch held {len(trace)} span(s) from {services}"


class BackendClient:
    """What both backends offer; subclasses implement the three fetches."""

    name = "backend"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self.session.close()

    @property
    def label(self) -> str:
        """``name (url)``, for messages."""
        return f"{self.name} ({self.base_url})"

    def _get(self, path: str, **kwargs: Any) -> requests.Response:
        url = self.base_url + path
        try:
            return self.session.get(url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise BackendError(f"{self.name}: GET {url} failed: {exc}") from exc

    def _json(self, response: requests.Response) -> Any:
        if response.status_code != 200:
            snippet = response.text[:200].strip()
            raise BackendError(
                f"{self.name}: GET {response.url} answered {response.status_code}: {snippet}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise BackendError(f"{self.name}: GET {response.url} did not answer JSON") from exc

    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace as the backend holds it now, or None when it has none of it."""
        raise NotImplementedError

    def services(self) -> list[str]:
        """The service names the backend has seen, sorted."""
        raise NotImplementedError

    def wait_for_trace(
        self,
        trace_id: str,
        *,
        min_spans: int = 1,
        services: Iterable[str] = (),
        timeout: float = 30.0,
        interval: float = 0.25,
    ) -> Trace:
        """Poll until the trace has ``min_spans`` spans and spans of every one of ``services``.

        Raises :class:`TraceNotFound` naming the backend, the id and what was
        seen when the time is up. Connection failures count as "not yet": a
        backend that is still starting is waited for too.
        """
        wanted = set(services)
        deadline = time.monotonic() + timeout
        trace: Trace | None = None
        error: BackendError | None = None
        while True:
            try:
                trace = self.get_trace(trace_id)
                error = None
            except BackendError as exc:
                error = exc
            if trace is not None and len(trace) >= min_spans and wanted <= trace.services:
                return trace
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
        wants = f"wanted >= {min_spans} span(s)"
        if wanted:
            wants += f" from {', '.join(sorted(wanted))}"
            if trace is not None:
                missing = wanted - trace.services
                wants += f" (missing: {', '.join(sorted(missing))})" if missing else ""
        seen = f"after {timeout:g}s {_describe(trace)}; {wants}"
        if error is not None:
            seen += f"; last error: {error}"
        raise TraceNotFound(self.label, normalise_trace_id(trace_id), seen)


class JaegerClient(BackendClient):
    """Jaeger's query API v1 (``/api/traces/{id}``, ``/api/services``)."""

    name = "jaeger"

    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace from ``/api/traces/{id}``; None on 404 or an empty answer."""
        response = self._get(f"/api/traces/{normalise_trace_id(trace_id)}")
        if response.status_code == 404:
            return None
        trace = trace_from_jaeger(self._json(response))
        return trace if len(trace) else None

    def services(self) -> list[str]:
        """The service names from ``/api/services``."""
        data = self._json(self._get("/api/services")).get("data") or []
        return sorted(str(name) for name in data)


class TempoClient(BackendClient):
    """Grafana Tempo's HTTP API (``/api/v2/traces/{id}``, tag value search)."""

    name = "tempo"

    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace from ``/api/v2/traces/{id}`` as OTLP JSON; None on 404 or empty."""
        response = self._get(
            f"/api/v2/traces/{normalise_trace_id(trace_id)}",
            headers={"Accept": "application/json"},
        )
        if response.status_code == 404:
            return None
        trace = trace_from_otlp(self._json(response))
        return trace if len(trace) else None

    def services(self) -> list[str]:
        """``resource.service.name`` values (v2 tag API), else ``service.name`` (v1)."""
        response = self._get("/api/v2/search/tag/resource.service.name/values")
        if response.status_code == 200:
            values = self._json(response).get("tagValues") or []
            return sorted(
                str(item.get("value")) if isinstance(item, dict) else str(item) for item in values
            )
        response = self._get("/api/search/tag/service.name/values")
        return sorted(str(name) for name in self._json(response).get("tagValues") or [])


CLIENTS: dict[str, type[BackendClient]] = {"jaeger": JaegerClient, "tempo": TempoClient}


def client_for(backend: str, base_url: str | None = None, **kwargs: Any) -> BackendClient:
    """A client for ``backend`` ("jaeger" or "tempo"); the default local URL when none given."""
    try:
        cls = CLIENTS[backend.lower()]
    except KeyError:
        raise ValueError(
            f"unknown backend {backend!r}: expected one of {', '.join(CLIENTS)}"
        ) from None
    return cls(base_url or DEFAULT_URLS[backend.lower()], **kwargs)
