"""The analyses as documents, for the console's API and the CLI alike (one code path).

Each function takes traces (or a backend client to find them) and returns
the JSON document both the console and ``tracelab analyze|compare|verify|
critical-path --json`` show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.common.sampling import configured_probability
from tracelab.analysis.aggregate import compare_profiles, profile
from tracelab.analysis.compare import compare
from tracelab.analysis.findings import AnalysisContext, Thresholds, analyze
from tracelab.analysis.service_map import Snapshot, service_map
from tracelab.journeys import JOURNEYS, journey
from tracelab.shapes.backends import BackendClient, JaegerClient
from tracelab.shapes.catalogue import load_named
from tracelab.shapes.diff import golden_diff
from tracelab.shapes.matcher import match
from tracelab.shapes.model import Trace
from tracelab.shapes.query import TraceQuery, journey_query
from tracelab.shapes.shape import ShapeError


class AnalysisError(ValueError):
    """A request the analyses cannot answer; ``code`` names why (for a JSON error body)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def context_for(client: BackendClient | None, thresholds: Mapping[str, Any]) -> AnalysisContext:
    """Thresholds (``name=value`` overrides) and, given a client, the broken-trace lookup."""
    try:
        limits = Thresholds().with_overrides(thresholds)
    except ValueError as exc:
        raise AnalysisError("invalid_threshold", str(exc)) from None

    def find(service: str, start: float, end: float) -> list[Trace]:
        assert client is not None
        return client.find_traces(TraceQuery(service=service, start=start, end=end, limit=50))

    return AnalysisContext(limits, find if client is not None else None)


def analyze_trace(
    trace: Trace, client: BackendClient | None, thresholds: Mapping[str, Any]
) -> dict[str, Any]:
    """Every detector's findings on ``trace``."""
    ctx = context_for(client, thresholds)
    return {
        "trace_id": trace.trace_id,
        "findings": [finding.to_dict() for finding in analyze(trace, ctx)],
        "thresholds": ctx.thresholds.to_dict(),
    }


def journey_of(trace: Trace) -> str | None:
    """The journey whose root span and answer this trace has, if any."""
    roots = trace.roots()
    if len(roots) != 1:
        return None
    root = roots[0]
    status = root.attributes.get("http.response.status_code")
    for candidate in JOURNEYS:
        same_root = root.service == "frontend" and root.name == candidate.root
        if same_root and str(status) == str(candidate.expected_status):
            return candidate.name
    return None


def diff_trace(trace: Trace, shape_name: str | None) -> dict[str, Any]:
    """``trace`` against the golden shape ``shape_name`` (default: its journey's)."""
    name = shape_name or journey_of(trace)
    if name is None:
        raise AnalysisError(
            "no_shape", "this trace is no journey's: choose a shape to compare it with"
        )
    try:
        shape = load_named(name)
    except ShapeError as exc:
        raise AnalysisError("unknown_shape", str(exc)) from None
    return {"shape_name": name, **golden_diff(match(shape, trace))}


def compare_traces(a: Trace, b: Trace) -> dict[str, Any]:
    """``a`` and ``b`` span by span."""
    return compare(a, b).to_dict()


def _journey_traces(
    client: BackendClient, name: str, last: int, window: tuple[float, float]
) -> list[Trace]:
    try:
        wanted = journey(name)
    except ValueError as exc:
        raise AnalysisError("unknown_journey", str(exc)) from None
    return client.find_traces(journey_query(wanted, window[0], window[1], last))


def critical_path_report(
    client: BackendClient,
    journey_name: str,
    last: int,
    window: tuple[float, float],
    versus: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """The critical-path profile of a journey's last ``last`` traces, and against ``versus``."""
    traces = _journey_traces(client, journey_name, last, window)
    document: dict[str, Any] = {
        "journey": journey_name,
        "window": {"start": window[0], "end": window[1]},
        "profile": profile(traces).to_dict(),
    }
    if versus is None:
        return document
    other = profile(_journey_traces(client, journey_name, last, versus))
    here = profile(traces)
    changes = compare_profiles(other, here)
    document["versus"] = {
        "window": {"start": versus[0], "end": versus[1]},
        "profile": other.to_dict(),
    }
    document["changes"] = changes
    if changes and here.traces and other.traces:
        top = changes[0]
        verb = "adds" if top["delta_p50_ms"] >= 0 else "removes"
        document["headline"] = (
            f"{verb} {abs(top['delta_p50_ms']):.0f} ms of critical path (p50) on "
            f"{top['service']} {top['name']}"
        )
    return document


def configured_sampling(sampler: str | None, argument: str | None) -> tuple[float, str]:
    """The map's fallback probability: ``OTEL_TRACES_SAMPLER``/``_ARG`` as the reader knows them.

    A sampler without a fixed probability (rate limiting) counts as 1: its
    counts cannot be corrected, and the map says where the figure came from.
    """
    probability = configured_probability(sampler, argument)
    if probability is None:
        return 1.0, f"unknown for {sampler} (not corrected)"
    return probability, "the reader's OTEL_TRACES_SAMPLER"


# Traces read to learn which peer is which service and how spans cluster.
MAP_TRACES = 200


def service_map_report(
    client: BackendClient,
    window: tuple[Snapshot, Snapshot],
    *,
    default_probability: tuple[float, str],
    known_peers: Mapping[tuple[str, str], str] | None = None,
) -> dict[str, Any]:
    """The service map between two span-metrics snapshots, with the traces of that time."""
    oldest, newest = window
    query = TraceQuery(start=oldest.at, end=newest.at, limit=MAP_TRACES)
    traces = client.find_traces(query)
    dependencies = None
    if isinstance(client, JaegerClient):
        dependencies = client.dependencies(newest.at, newest.at - oldest.at)
    return service_map(
        window,
        traces,
        default_probability=default_probability,
        known_peers=known_peers,
        dependencies=dependencies,
    )
