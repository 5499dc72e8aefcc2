"""Trace search, backend-neutral: the query a person fills in, and what a search returns.

A :class:`TraceQuery` is what the console's search form, the CLI and the
tests ask for. Its semantics are fixed here, once, for every backend:

- ``service``, ``operation`` and every ``attributes`` filter must hold on
  *one* span (attributes are looked up on the span, then on its resource);
- ``errors_only``: the trace has at least one span with status error;
- ``min_duration_ms`` / ``max_duration_ms`` bound the duration of the whole
  trace (earliest start to latest end), never that of a single span:
  Jaeger's own duration filter applies to any span (jaeger#1015), so it is
  not used;
- ``start`` / ``end`` (Unix seconds) bound when the matching span started.

Tempo runs the query as TraceQL (:meth:`TraceQuery.to_traceql`); Jaeger's
``/api/v3`` search takes service, operation and time only, so the rest is
applied by :meth:`TraceQuery.matches` to the traces Jaeger hands back.
"""

from __future__ import annotations

import math
import re
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tracelab.shapes.model import Span, Trace

if TYPE_CHECKING:
    from tracelab.journeys import Journey

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
DEFAULT_LOOKBACK_S = 3600.0
MAX_TEXT = 300
MAX_TRACEQL = 4000
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h)?\s*$")
_UNIT_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


class QueryError(ValueError):
    """A search query that cannot be run: the message says what is wrong and how to fix it."""


def parse_duration_ms(text: str, what: str = "duration") -> float:
    """``"250ms"``, ``"1.5s"``, ``"300us"``, ``"2m"`` or a bare number of milliseconds."""
    found = _DURATION.match(str(text))
    if not found:
        raise QueryError(f"{what} {text!r} is not a duration like 250ms, 1.5s or 300us")
    value, unit = float(found.group(1)), found.group(2) or "ms"
    return value * _UNIT_MS[unit]


def parse_time_s(text: str, what: str) -> float:
    """Unix seconds from epoch milliseconds (13 digits), epoch seconds or ISO 8601."""
    raw = str(text).strip()
    try:
        number = float(raw)
    except ValueError:
        number = None
    if number is not None and math.isfinite(number):
        return number / 1000 if number > 1e11 else number
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(
            f"{what} {text!r} is neither epoch milliseconds nor an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        raise QueryError(f"{what} {text!r} has no time zone (add Z or +01:00)")
    return moment.timestamp()


def parse_attributes(text: str) -> dict[str, str]:
    """``key=value`` pairs separated by blanks (logfmt: quote values with spaces)."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise QueryError(f"attribute filters {text!r}: {exc}") from None
    return dict(parse_pair(word) for word in words)


def parse_pair(word: str, what: str = "attribute filter") -> tuple[str, str]:
    """One ``key=value`` pair (the value may hold ``=`` and blanks); ``what`` it is, for errors."""
    key, sep, value = word.partition("=")
    if not sep or not key.strip():
        raise QueryError(f"{what} {word!r} is not key=value")
    return key.strip(), value


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if len(text) > MAX_TEXT:
        raise QueryError(f"{what} is longer than {MAX_TEXT} characters")
    return text or None


def _traceql_param(value: Any) -> str | None:
    text = str(value or "").strip()
    if len(text) > MAX_TRACEQL:
        raise QueryError(f"the TraceQL query is longer than {MAX_TRACEQL} characters")
    return text or None


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _traceql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _traceql_literal(value: str) -> str:
    """A number or boolean stays one (``500`` matches an int attribute); anything else quoted."""
    if re.fullmatch(r"-?\d+", value) or re.fullmatch(r"-?\d+\.\d+", value):
        return value
    if value in ("true", "false"):
        return value
    return _traceql_string(value)


def _traceql_attribute(key: str) -> str:
    # Unscoped (".key") matches span and resource attributes, as Jaeger does.
    return f".{key}" if _PLAIN_KEY.match(key) else f".{_traceql_string(key)}"


def _traceql_duration(ms: float) -> str:
    micros = round(ms * 1000)
    return f"{micros // 1000}ms" if micros % 1000 == 0 else f"{micros}us"


def _attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class TraceQuery:
    """What to search for (see the module docstring for the exact semantics)."""

    service: str | None = None
    operation: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    errors_only: bool = False
    min_duration_ms: float | None = None
    max_duration_ms: float | None = None
    start: float | None = None
    end: float | None = None
    limit: int = DEFAULT_LIMIT
    traceql: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise QueryError(f"limit {self.limit} is outside 1..{MAX_LIMIT}")
        for what, value in (
            ("min duration", self.min_duration_ms),
            ("max duration", self.max_duration_ms),
        ):
            if value is not None and (not math.isfinite(value) or value < 0):
                raise QueryError(f"{what} must be a positive duration")
        low, high = self.min_duration_ms, self.max_duration_ms
        if low is not None and high is not None and low > high:
            raise QueryError(f"min duration {low:g} ms is above max duration {high:g} ms")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise QueryError("the time range is empty: start must be before end")
        if self.operation and not self.service:
            raise QueryError(
                "an operation needs its service (operation names repeat across services)"
            )
        for key in self.attributes:
            if not key or len(key) > MAX_TEXT or any(c in key for c in '{}"\n'):
                raise QueryError(f"attribute name {key!r} is not valid")

    @classmethod
    def from_params(cls, params: Mapping[str, Any], now: float | None = None) -> TraceQuery:
        """Parse the string parameters of a search request (console API, CLI).

        Keys: ``service``, ``operation``, ``attributes`` (logfmt ``k=v`` pairs)
        or repeated ``attr=k=v``, ``errors``, ``min_duration``/``max_duration``
        (``250ms``, ``1.5s``), ``lookback`` (a duration back from now) or
        ``start``/``end`` (epoch ms or ISO 8601), ``limit``, ``q`` (TraceQL).
        Raises :class:`QueryError` on anything malformed.
        """
        now = time.time() if now is None else now
        get = params.get
        attributes = parse_attributes(str(get("attributes") or ""))
        extra = params.getlist("attr") if hasattr(params, "getlist") else get("attr") or []
        attributes.update(parse_pair(p) for p in ([extra] if isinstance(extra, str) else extra))
        end = parse_time_s(get("end"), "end") if get("end") else now
        if get("start"):
            start = parse_time_s(get("start"), "start")
        else:
            lookback = get("lookback")
            span_ms = (
                parse_duration_ms(lookback, "lookback") if lookback else DEFAULT_LOOKBACK_S * 1e3
            )
            start = end - span_ms / 1000
        raw_limit = str(get("limit") or DEFAULT_LIMIT).strip()
        if not raw_limit.isdigit():
            raise QueryError(f"limit {raw_limit!r} is not a whole number")
        min_d, max_d = get("min_duration"), get("max_duration")
        return cls(
            service=_text(get("service"), "service"),
            operation=_text(get("operation"), "operation"),
            attributes=attributes,
            errors_only=_flag(get("errors") or ""),
            min_duration_ms=parse_duration_ms(min_d, "min duration") if min_d else None,
            max_duration_ms=parse_duration_ms(max_d, "max duration") if max_d else None,
            start=start,
            end=end,
            limit=int(raw_limit),
            traceql=_traceql_param(get("q")),
        )

    # -- TraceQL (Tempo) ----------------------------------------------------------
    def to_traceql(self) -> str:
        """The TraceQL this query runs on Tempo (the console shows and lets people edit it)."""
        spansets = []
        conditions = []
        if self.service:
            conditions.append(f"resource.service.name = {_traceql_string(self.service)}")
        if self.operation:
            conditions.append(f"name = {_traceql_string(self.operation)}")
        for key, value in self.attributes.items():
            conditions.append(f"{_traceql_attribute(key)} = {_traceql_literal(value)}")
        if conditions:
            spansets.append("{ " + " && ".join(conditions) + " }")
        if self.errors_only:
            spansets.append("{ status = error }")
        bounds = []
        if self.min_duration_ms is not None:
            bounds.append(f"traceDuration >= {_traceql_duration(self.min_duration_ms)}")
        if self.max_duration_ms is not None:
            bounds.append(f"traceDuration <= {_traceql_duration(self.max_duration_ms)}")
        if bounds:
            spansets.append("{ " + " && ".join(bounds) + " }")
        return " && ".join(spansets) if spansets else "{ }"

    # -- client-side filtering (Jaeger) ------------------------------------------------
    @property
    def needs_trace_filter(self) -> bool:
        """True when the backend's own search cannot express part of the query."""
        return bool(
            self.attributes
            or self.errors_only
            or self.min_duration_ms is not None
            or self.max_duration_ms is not None
        )

    def _span_matches(self, span: Span) -> bool:
        if self.service and span.service != self.service:
            return False
        if self.operation and span.name != self.operation:
            return False
        for key, wanted in self.attributes.items():
            value = span.attributes.get(key, span.resource.get(key))
            if value is None or _attribute_text(value) != wanted:
                return False
        return True

    def matches(self, trace: Trace) -> bool:
        """True when ``trace`` (one trace) satisfies the whole query but the time range."""
        if (self.service or self.operation or self.attributes) and not any(
            self._span_matches(span) for span in trace
        ):
            return False
        if self.errors_only and not any(span.status == "error" for span in trace):
            return False
        duration = trace.duration_ms
        if self.min_duration_ms is not None and duration < self.min_duration_ms:
            return False
        return self.max_duration_ms is None or duration <= self.max_duration_ms

    def describe(self) -> dict[str, Any]:
        """The query as JSON (what the console echoes back)."""
        return {
            "service": self.service,
            "operation": self.operation,
            "attributes": dict(self.attributes),
            "errors_only": self.errors_only,
            "min_duration_ms": self.min_duration_ms,
            "max_duration_ms": self.max_duration_ms,
            "start": self.start,
            "end": self.end,
            "limit": self.limit,
        }


@dataclass(frozen=True)
class TraceSummary:
    """One search hit: what the results table and the scatter plot show.

    ``span_count``, ``services`` and ``error_count`` are None where the
    backend's search answer does not say (older Tempo versions).
    """

    trace_id: str
    root_service: str
    root_name: str
    start_ns: int
    duration_ms: float
    span_count: int | None = None
    services: tuple[str, ...] | None = None
    error_count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "trace_id": self.trace_id,
            "root_service": self.root_service,
            "root_name": self.root_name,
            "start_ms": self.start_ns / 1e6,
            "duration_ms": round(self.duration_ms, 3),
            "span_count": self.span_count,
            "services": list(self.services) if self.services is not None else None,
            "error_count": self.error_count,
        }


def summarize(trace: Trace) -> TraceSummary:
    """The summary of one non-empty trace (its earliest root names it)."""
    roots = trace.roots()
    root = min(roots, key=lambda s: s.start_ns) if roots else trace.spans[0]
    assert trace.trace_id is not None, "summarize() takes one trace"
    return TraceSummary(
        trace_id=trace.trace_id,
        root_service=root.service,
        root_name=root.name,
        start_ns=min(span.start_ns for span in trace),
        duration_ms=trace.duration_ms,
        span_count=len(trace),
        services=tuple(sorted(trace.services)),
        error_count=sum(1 for span in trace if span.status == "error"),
    )


@dataclass(frozen=True)
class SearchResult:
    """What a search found, newest first, and how it was run.

    ``query`` is what the backend ran (TraceQL for Tempo, the request for
    Jaeger). ``scanned`` counts the traces the backend handed over;
    ``exhaustive`` is False when the backend had more candidates than were
    scanned (``scan_limit`` reached): older matches may exist.
    """

    backend: str
    query: str
    traces: Sequence[TraceSummary]
    scanned: int
    exhaustive: bool
    notes: Sequence[str] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "backend": self.backend,
            "query": self.query,
            "traces": [summary.to_dict() for summary in self.traces],
            "scanned": self.scanned,
            "exhaustive": self.exhaustive,
            "notes": list(self.notes),
        }


def journey_query(journey: Journey, start: float, end: float, limit: int) -> TraceQuery:
    """The search for a journey's traces: its root span, answering as the journey does.

    (Profile, bad token and not found share their root span: the status tells them apart.)
    """
    return TraceQuery(
        service="frontend",
        operation=journey.root,
        attributes={"http.response.status_code": str(journey.expected_status)},
        start=start,
        end=end,
        limit=limit,
    )
