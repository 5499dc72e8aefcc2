"""HTTP clients for the tracing backends' query APIs: Jaeger and Grafana Tempo.

The one place in tracelab that reads traces from a backend: the console,
``tracelab verify``, the scenario checks, the sampling comparison and the
tests all go through these clients.

- Jaeger: the OTLP-based query API ``/api/v3`` (``/api/v3/traces/{id}``,
  ``/api/v3/traces`` search, ``/api/v3/services``, ``/api/v3/operations``).
  Jaeger's older ``/api/traces`` JSON is its internal UI API and is not used.
- Tempo: ``/api/v2/traces/{id}`` (OTLP JSON), ``/api/search`` with TraceQL,
  the v2 tag-value API for services and operations.

Both return backend-neutral :class:`~tracelab.shapes.model.Trace` objects and
:class:`~tracelab.shapes.query.SearchResult` searches. Spans reach a backend
in batches, one per service process, so a trace fetched right after a
request may be incomplete: :meth:`BackendClient.wait_for_trace` polls until
the trace holds what the caller needs.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import requests

from tracelab.shapes.from_otlp import otlp_document, trace_from_otlp, traces_from_otlp
from tracelab.shapes.ids import hex_id, normalise_trace_id
from tracelab.shapes.model import Trace
from tracelab.shapes.query import (
    QueryError,
    SearchResult,
    TraceQuery,
    TraceSummary,
    summarize,
)

DEFAULT_URLS = {"jaeger": "http://127.0.0.1:16686", "tempo": "http://127.0.0.1:3200"}
# How many recent candidate traces a Jaeger search reads at most when part of
# the query (attributes, errors, trace duration) is applied here, not by Jaeger;
# and how many it asks Jaeger for at a time.
DEFAULT_SCAN_LIMIT = 1000
PAGE_SIZE = 250


@contextmanager
def _no_gc_pauses() -> Iterator[None]:
    """Hold the cyclic garbage collector while a large answer becomes Python objects.

    A search answer of 1,000 traces is ~13 MB of JSON and ~2 million objects;
    the collector would run hundreds of times while they are made (measured:
    parsing alone 0.4-1.7 s instead of 0.16 s). JSON trees hold no cycles, so
    nothing is left for the collector to find when it runs again.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class BackendError(RuntimeError):
    """The backend gave an answer we cannot read (or an error status)."""


class BackendUnavailable(BackendError):
    """The backend could not be reached (refused, timed out, DNS)."""


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


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _time_range(query: TraceQuery) -> tuple[float, float]:
    end = query.end if query.end is not None else time.time()
    start = query.start if query.start is not None else end - 3600
    return start, end


class BackendClient:
    """What both backends offer; subclasses implement the fetches."""

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

    def __enter__(self) -> BackendClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def label(self) -> str:
        """``name (url)``, for messages."""
        return f"{self.name} ({self.base_url})"

    def _get(self, path: str, **kwargs: Any) -> requests.Response:
        url = self.base_url + path
        try:
            return self.session.get(url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise BackendUnavailable(f"{self.name}: GET {url} failed: {exc}") from exc

    def _json(self, response: requests.Response) -> Any:
        if response.status_code != 200:
            snippet = response.text[:300].strip()
            raise BackendError(
                f"{self.name}: GET {response.url} answered {response.status_code}: {snippet}"
            )
        try:
            with _no_gc_pauses():
                return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise BackendError(f"{self.name}: GET {response.url} did not answer JSON") from exc

    # -- what every backend implements ------------------------------------------
    def fetch(self, trace_id: str) -> Mapping[str, Any] | None:
        """The backend's own JSON answer for one trace, or None when it has none of it."""
        raise NotImplementedError

    def services(self) -> list[str]:
        """The service names the backend has seen, sorted."""
        raise NotImplementedError

    def operations(self, service: str) -> list[str]:
        """The span names of ``service``, sorted."""
        raise NotImplementedError

    def search(self, query: TraceQuery) -> SearchResult:
        """The traces matching ``query``, newest first, at most ``query.limit``."""
        raise NotImplementedError

    def ping(self) -> None:
        """Raise :class:`BackendError` unless the query API answers."""
        raise NotImplementedError

    # -- built on those -------------------------------------------------------------
    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace as the backend holds it now, or None when it has none of it."""
        answer = self.fetch(trace_id)
        if answer is None:
            return None
        with _no_gc_pauses():
            trace = trace_from_otlp(answer)
        return trace if len(trace) else None

    def get_document(self, trace_id: str) -> dict[str, Any] | None:
        """The trace as plain OTLP/JSON (``{"resourceSpans": [...]}``, hex ids), or None."""
        answer = self.fetch(trace_id)
        return None if answer is None else otlp_document(answer)

    def find_traces(self, query: TraceQuery) -> list[Trace]:
        """The whole traces matching ``query`` (newest first)."""
        found = [self.get_trace(summary.trace_id) for summary in self.search(query).traces]
        return [trace for trace in found if trace is not None]

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
    """Jaeger's OTLP-based query API ``/api/v3``.

    Its search (``GET /api/v3/traces``) takes service, operation and a start
    time range, and returns the most recent matching traces (at most
    ``query.num_traces``) as one merged OTLP document; attribute filters are
    not passed through by its HTTP gateway, and its duration filter applies
    to single spans. So a query with attributes, errors-only or a trace
    duration reads up to ``scan_limit`` recent candidates and filters them
    here (:meth:`TraceQuery.matches`); the result says when that scan was
    not exhaustive.
    """

    name = "jaeger"

    def __init__(
        self,
        base_url: str,
        *,
        scan_limit: int = DEFAULT_SCAN_LIMIT,
        page_size: int = PAGE_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, **kwargs)
        self.scan_limit = scan_limit
        self.page_size = page_size

    def fetch(self, trace_id: str) -> Mapping[str, Any] | None:
        """``/api/v3/traces/{id}`` (``{"result": {"resourceSpans": ...}}``); None on 404."""
        response = self._get(f"/api/v3/traces/{normalise_trace_id(trace_id)}")
        if response.status_code == 404:
            return None
        return self._json(response)

    def services(self) -> list[str]:
        """``/api/v3/services``."""
        names = self._json(self._get("/api/v3/services")).get("services") or []
        return sorted(str(name) for name in names)

    def operations(self, service: str) -> list[str]:
        """``/api/v3/operations?service=...`` (span names, any kind)."""
        answer = self._json(self._get("/api/v3/operations", params={"service": service}))
        return sorted({str(op.get("name", "")) for op in answer.get("operations") or ()} - {""})

    def ping(self) -> None:
        """``/api/v3/services`` answers."""
        self.services()

    def dependencies(self, end: float, lookback_s: float) -> list[dict[str, Any]]:
        """Jaeger's own service dependency links (parent, child, callCount) over the window.

        ``/api/v3`` has no dependencies call; this is Jaeger's HTTP API
        ``/api/dependencies`` (what its UI's System Architecture view reads).
        """
        params = {"endTs": str(int(end * 1000)), "lookback": str(int(lookback_s * 1000))}
        answer = self._json(self._get("/api/dependencies", params=params))
        return [
            {
                "from": str(link.get("parent", "")),
                "to": str(link.get("child", "")),
                "calls": int(link.get("callCount") or 0),
            }
            for link in answer.get("data") or ()
        ]

    def _scan(self, query: TraceQuery) -> _JaegerScan:
        """Read Jaeger's candidates page by page, newest first (see :class:`_JaegerScan`)."""
        if query.traceql:
            raise QueryError("TraceQL is Tempo's query language: Jaeger takes the search form")
        return _JaegerScan(self, query)

    def search(self, query: TraceQuery) -> SearchResult:
        """Jaeger's search, then the rest of the query applied to whole traces."""
        scan = self._scan(query)
        summaries = sorted(
            (summarize(trace) for trace in scan.matching()),
            key=lambda s: s.start_ns,
            reverse=True,
        )
        notes = []
        if query.needs_trace_filter:
            notes.append(
                f"attributes, errors and trace duration were checked here on the {scan.read} "
                "newest candidate traces Jaeger returned"
                + (
                    ""
                    if scan.exhausted or len(summaries) >= query.limit
                    else (f" (scan limit {self.scan_limit} reached: narrow the time range)")
                )
            )
        return SearchResult(
            self.name,
            scan.request,
            summaries[: query.limit],
            scan.read,
            scan.exhausted,
            notes,
        )

    def find_traces(self, query: TraceQuery) -> list[Trace]:
        """The matching traces: Jaeger's search answers already hold them whole."""
        matching = list(self._scan(query).matching())
        matching.sort(key=lambda t: min(s.start_ns for s in t), reverse=True)
        return matching[: query.limit]


class _JaegerScan:
    """One search over Jaeger, read in pages of at most ``page_size`` traces.

    Jaeger returns the most recently stored traces first, so each next page
    asks for spans that started up to the oldest start of the page before
    (the traces seen twice at that boundary are skipped). Reading stops as
    soon as ``query.limit`` traces matched, when Jaeger has no more
    (``exhausted``) or after ``scan_limit`` candidates. A page of 250 traces
    is ~3 MB of JSON: memory stays bounded whatever the scan limit.
    """

    def __init__(self, client: JaegerClient, query: TraceQuery) -> None:
        self.client = client
        self.query = query
        self.read = 0
        self.exhausted = False
        self.request = ""

    def _page(self, end: float, size: int) -> list[Trace] | None:
        start, _ = _time_range(self.query)
        params: dict[str, str] = {
            "query.start_time_min": _rfc3339(start),
            "query.start_time_max": _rfc3339(end),
            "query.num_traces": str(size),
        }
        if self.query.service:
            params["query.service_name"] = self.query.service
        if self.query.operation:
            params["query.operation_name"] = self.query.operation
        if not self.request:
            self.request = "GET /api/v3/traces?" + "&".join(f"{k}={v}" for k, v in params.items())
        response = self.client._get("/api/v3/traces", params=params)
        if response.status_code == 404:  # Jaeger's answer for "no trace matched"
            return None
        if response.status_code == 400:
            raise QueryError(f"jaeger refused the search: {response.text[:300].strip()}")
        answer = self.client._json(response)
        with _no_gc_pauses():
            return traces_from_otlp(answer)

    def matching(self) -> Iterator[Trace]:
        """The candidates that satisfy the whole query, newest pages first."""
        start, end = _time_range(self.query)
        budget = self.client.scan_limit if self.query.needs_trace_filter else self.query.limit
        seen: set[str] = set()
        found = 0
        while self.read < budget and found < self.query.limit:
            size = min(self.client.page_size, budget - self.read)
            page = self._page(end, size)
            if page is None:
                self.exhausted = True
                return
            fresh = [trace for trace in page if trace.trace_id not in seen]
            seen.update(trace.trace_id for trace in fresh)
            self.read += len(fresh)
            for trace in fresh:
                if self.query.matches(trace):
                    found += 1
                    yield trace
            if len(page) < size or not fresh:
                self.exhausted = True
                return
            end = min(span.start_ns for trace in page for span in trace) / 1e9
            if end <= start:
                self.exhausted = True
                return


def _tempo_summary(item: Mapping[str, Any]) -> TraceSummary:
    stats = item.get("serviceStats")
    services = span_count = error_count = None
    if isinstance(stats, Mapping) and stats:
        services = tuple(sorted(stats))
        span_count = sum(int((s or {}).get("spanCount") or 0) for s in stats.values())
        error_count = sum(int((s or {}).get("errorCount") or 0) for s in stats.values())
    return TraceSummary(
        trace_id=hex_id(str(item.get("traceID", "")), "trace") or "",
        root_service=str(item.get("rootServiceName") or ""),
        root_name=str(item.get("rootTraceName") or ""),
        start_ns=int(item.get("startTimeUnixNano") or 0),
        # durationMs is omitted (proto3 zero) for traces under a millisecond.
        duration_ms=float(item.get("durationMs") or 0),
        span_count=span_count,
        services=services,
        error_count=error_count,
    )


class TempoClient(BackendClient):
    """Grafana Tempo's HTTP API: ``/api/v2/traces/{id}``, TraceQL ``/api/search``, tag values."""

    name = "tempo"

    def fetch(self, trace_id: str) -> Mapping[str, Any] | None:
        """``/api/v2/traces/{id}`` (``{"trace": {"resourceSpans": ...}}``, base64 ids)."""
        response = self._get(
            f"/api/v2/traces/{normalise_trace_id(trace_id)}",
            headers={"Accept": "application/json"},
        )
        if response.status_code == 404:
            return None
        return self._json(response)

    def _tag_values(self, tag: str, traceql: str | None = None) -> list[str]:
        params = {"q": traceql} if traceql else None
        answer = self._json(self._get(f"/api/v2/search/tag/{tag}/values", params=params))
        values = answer.get("tagValues") or []
        return sorted(
            {str(item.get("value")) if isinstance(item, dict) else str(item) for item in values}
        )

    def services(self) -> list[str]:
        """``resource.service.name`` values (v2 tag API), else ``service.name`` (v1)."""
        response = self._get("/api/v2/search/tag/resource.service.name/values")
        if response.status_code == 200:
            return self._tag_values("resource.service.name")
        response = self._get("/api/search/tag/service.name/values")
        return sorted(str(name) for name in self._json(response).get("tagValues") or [])

    def operations(self, service: str) -> list[str]:
        """Values of the intrinsic ``name`` on spans of ``service`` (filtered tag values)."""
        escaped = service.replace("\\", "\\\\").replace('"', '\\"')
        return self._tag_values("name", f'{{ resource.service.name = "{escaped}" }}')

    def ping(self) -> None:
        """``/api/echo`` answers (the query frontend is up)."""
        response = self._get("/api/echo")
        if response.status_code != 200:
            raise BackendError(f"tempo: /api/echo answered {response.status_code}")

    def search(self, query: TraceQuery) -> SearchResult:
        """``/api/search?q=<TraceQL>``: the person's own TraceQL or the form's."""
        traceql = query.traceql or query.to_traceql()
        start, end = _time_range(query)
        params = {
            "q": traceql,
            "limit": str(query.limit),
            "start": str(int(start)),
            "end": str(int(end) + 1),
            "spss": "3",
        }
        response = self._get("/api/search", params=params)
        if response.status_code == 400:
            raise QueryError(f"tempo refused the TraceQL query: {response.text[:300].strip()}")
        items = self._json(response).get("traces") or []
        summaries = sorted(
            (_tempo_summary(item) for item in items), key=lambda s: s.start_ns, reverse=True
        )
        notes = []
        if summaries and summaries[0].span_count is None:
            notes.append("this Tempo's search answer has no per-service span and error counts")
        exhaustive = len(summaries) < query.limit
        return SearchResult(self.name, traceql, summaries, len(summaries), exhaustive, notes)


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
