"""The console's analysis API: findings, golden diff, comparison, critical path, service map.

Same error contract as :mod:`tracelab.console.api` (400 bad input, 404 no
such trace or shape, 502/503 backend trouble; 503 while the span metrics
are not yet read twice). The CLI commands
(``tracelab analyze|compare|critical-path|verify --json``) return the same
documents.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from services.common.errors import ApiError, BadRequest, NotFound
from tracelab.analysis.service import (
    AnalysisError,
    analyze_trace,
    compare_traces,
    configured_sampling,
    critical_path_report,
    diff_trace,
    service_map_report,
)
from tracelab.analysis.service_map import service_addresses
from tracelab.console.api import _call, _client, _console, _trace, _trace_id
from tracelab.shapes.catalogue import list_shapes
from tracelab.shapes.query import (
    QueryError,
    parse_duration_ms,
    parse_pair,
    parse_time_s,
)

analysis_api = Blueprint("console_analysis", __name__, url_prefix="/api")


def _thresholds() -> dict[str, str]:
    try:
        return dict(parse_pair(pair, "threshold") for pair in request.args.getlist("threshold"))
    except QueryError as exc:
        raise BadRequest(str(exc), "invalid_threshold") from None


def _guarded(action: Any) -> Any:
    try:
        return action()
    except AnalysisError as exc:
        raise BadRequest(str(exc), exc.code) from None


@analysis_api.get("/trace/<raw_id>/findings")
def findings(raw_id: str) -> Response:
    """What is probably wrong with this trace (every detector, with its spans and evidence)."""
    client = _client()
    trace = _trace(client, _trace_id(raw_id))
    thresholds = _thresholds()
    return jsonify(
        _call(client, lambda: _guarded(lambda: analyze_trace(trace, client, thresholds)))
    )


@analysis_api.get("/shapes")
def shapes() -> Response:
    """The golden shapes a trace can be diffed against."""
    return jsonify(
        shapes=[
            {"name": entry.name, "kind": entry.kind, "description": entry.description}
            for entry in list_shapes()
        ]
    )


@analysis_api.get("/trace/<raw_id>/diff")
def diff(raw_id: str) -> Response:
    """The trace against a golden shape (``?shape=dashboard``; default: its journey's)."""
    client = _client()
    trace = _trace(client, _trace_id(raw_id))
    shape = (request.args.get("shape") or "").strip() or None
    try:
        return jsonify(diff_trace(trace, shape))
    except AnalysisError as exc:
        if exc.code == "unknown_shape":
            raise NotFound(str(exc), exc.code) from None
        raise BadRequest(str(exc), exc.code) from None


@analysis_api.get("/compare")
def compare() -> Response:
    """Two traces span by span: ``?a=<trace id>&b=<trace id>``."""
    client = _client()
    a, b = request.args.get("a", ""), request.args.get("b", "")
    if not a or not b:
        raise BadRequest("compare needs two trace ids: ?a=<id>&b=<id>", "invalid_query")
    first, second = _trace(client, _trace_id(a)), _trace(client, _trace_id(b))
    return jsonify(compare_traces(first, second))


def _window(prefix: str) -> tuple[float, float] | None:
    start, end = request.args.get(f"{prefix}start"), request.args.get(f"{prefix}end")
    if not start and not end:
        return None
    try:
        window = parse_time_s(start or "", "start"), parse_time_s(end or "", "end")
    except QueryError as exc:
        raise BadRequest(str(exc), "invalid_query") from None
    if window[0] >= window[1]:
        raise BadRequest("the time range is empty: start must be before end", "invalid_query")
    return window


@analysis_api.get("/critical-path")
def critical_path() -> Response:
    """Critical path over the last N traces of a journey; ``vs_start``/``vs_end`` compare."""
    client = _client()
    journey = (request.args.get("journey") or "").strip()
    raw_last = (request.args.get("last") or "200").strip()
    if not raw_last.isdigit() or not 1 <= int(raw_last) <= 1000:
        raise BadRequest("last must be a number of traces, 1..1000", "invalid_query")
    lookback = request.args.get("lookback") or "1h"
    try:
        lookback_s = parse_duration_ms(lookback, "lookback") / 1000
    except QueryError as exc:
        raise BadRequest(str(exc), "invalid_query") from None
    now = time.time()
    window = _window("") or (now - lookback_s, now)
    versus = _window("vs_")
    report = _call(
        client,
        lambda: _guarded(
            lambda: critical_path_report(client, journey, int(raw_last), window, versus)
        ),
    )
    return jsonify(report)


WINDOWS_S = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}


@analysis_api.get("/service-map")
def service_map_view() -> Response:
    """Services and calls with RED from the span metrics over ``?window=5m``, sampling-corrected."""
    console = _console()
    name = request.args.get("window") or "5m"
    if name not in WINDOWS_S:
        raise BadRequest(f"window must be one of {', '.join(WINDOWS_S)}", "invalid_query")
    window = console.metrics.window(WINDOWS_S[name])
    if window is None:
        console.metrics.scrape()
        problem = console.metrics.last_error or (
            "the console keeps the span metrics from its start: ask again in a few seconds"
        )
        raise ApiError(503, "metrics_unavailable", problem, retry_after=5)
    client = _client()
    settings = console.settings
    document = _call(
        client,
        lambda: service_map_report(
            client,
            window,
            default_probability=configured_sampling(settings.sampler, settings.sampler_arg),
            known_peers=service_addresses(settings.services),
        ),
    )
    return jsonify(window=name, **document)
