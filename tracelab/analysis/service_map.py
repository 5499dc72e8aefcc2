"""The service map: services and their calls, with RED from the span metrics, sampling-corrected.

Where the numbers come from:

- **Rates, errors, latency**: the collector's span metrics
  (``traces_span_metrics_calls_total`` and ``..._duration_milliseconds``
  from its ``span_metrics`` connector), scraped every few seconds
  (:class:`MetricsHistory`); a window's figures are the counters' increase
  over it. A service's figures are its SERVER spans'; an edge's are the
  CLIENT spans of the caller that went to one peer (``server.address`` /
  ``server.port``). Percentiles are read from the histogram buckets as
  PromQL's ``histogram_quantile`` reads them (linear within a bucket); the
  console has no Prometheus to ask in local mode, so that interpolation is
  written here.
- **Which peer is which service**: learnt from the traces of the window
  (a client span's ``server.address:server.port`` and the service of the
  server span under it), else from the stack's own service URLs; a
  database call's peer is its ``db.system``. The edges seen in the traces
  are listed too, beside Jaeger's own dependency links where Jaeger is the
  backend.
- **Sampling**: span metrics see *sampled* spans only. Each sampled span
  stands for 1/p requests, p its head-sampling probability: read from the
  W3C tracestate ``ot=th:`` threshold the SDK's consistent-probability
  sampler writes (``OTEL_TRACES_SAMPLER=parentbased_probability``), else
  from the sampler configuration the services ran with (their resource
  attribute ``tracelab.sampling.probability``), else from the console's
  own configuration. Where spans carry ``ot=th``, the collector's span
  metrics connector has already weighted them (its series say
  ``sampling_method="extrapolated"``): the raw count is then theirs times
  p; elsewhere (``"counted"``) the corrected count is theirs divided by p.
  For n raw spans the corrected count's standard error is sqrt(n (1 - p)) / p
  where each trace holds one such span (n sampled out of a binomial(N, p)),
  widened by sqrt(sum k^2 / sum k) where traces hold k of them (whole
  traces are sampled together).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from services.common.sampling import PROBABILITY_ATTRIBUTE
from tracelab.bench import promtext
from tracelab.shapes.model import Span, Trace

CALLS = "traces_span_metrics_calls"
DURATION = "traces_span_metrics_duration_milliseconds"
SERVER, CLIENT = "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT"
ERROR = "STATUS_CODE_ERROR"
MAX_THRESHOLD = 1 << 56

# One series: metric name and its whole label set (so each counter is followed alone).
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]
# What the map groups by: (span kind, service, peer address, peer port).
Who = tuple[str, str, str, str]


@dataclass(frozen=True)
class Snapshot:
    """The span metrics' call counters and duration buckets at one moment, series by series."""

    at: float
    series: Mapping[SeriesKey, float]


def parse_span_metrics(text: str, at: float) -> Snapshot:
    """A :class:`Snapshot` of a Prometheus text exposition."""
    wanted = (f"{CALLS}_total", f"{DURATION}_bucket")
    series = {
        (name, tuple(sorted(labels.items()))): value
        for name, labels, value in promtext.parse(text)
        if name in wanted
    }
    return Snapshot(at, series)


def histogram_quantile(q: float, cumulative: Mapping[float, float]) -> float | None:
    """The ``q`` quantile of a cumulative histogram (bucket bound -> count), PromQL's way."""
    bounds = sorted(cumulative)
    if not bounds or cumulative[bounds[-1]] <= 0:
        return None
    total = cumulative[bounds[-1]]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = cumulative[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # the highest finite bound, as PromQL answers
            inside = count - lower_count
            share = (rank - lower_count) / inside if inside else 0.0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


class MetricsHistory:
    """The span metrics scraped every ``interval`` seconds, kept for ``keep`` seconds."""

    def __init__(
        self,
        url: str | None,
        *,
        interval: float = 5.0,
        keep: float = 3900.0,
        fetch: Callable[[str], str] | None = None,
    ) -> None:
        self.url = url
        self.interval = interval
        self.keep = keep
        self._fetch = fetch or (lambda u: requests.get(u, timeout=5).text)
        self._snapshots: list[Snapshot] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def scrape(self, now: float | None = None) -> Snapshot | None:
        """Take one snapshot now (None, and ``last_error`` set, when the scrape failed)."""
        if self.url is None:
            self.last_error = "no span metrics URL is configured (TRACELAB_SPAN_METRICS_URL)"
            return None
        now = time.time() if now is None else now
        try:
            snapshot = parse_span_metrics(self._fetch(self.url), now)
        except (requests.RequestException, ValueError) as exc:
            self.last_error = f"the span metrics at {self.url} could not be read: {exc}"
            return None
        self.last_error = None
        with self._lock:
            self._snapshots.append(snapshot)
            self._snapshots = [s for s in self._snapshots if s.at >= now - self.keep]
        return snapshot

    def start(self) -> None:
        """Scrape in the background from now on (once per process)."""
        if self._thread is not None:
            return

        def loop() -> None:
            while True:
                self.scrape()
                time.sleep(self.interval)

        self._thread = threading.Thread(target=loop, name="span-metrics-scraper", daemon=True)
        self._thread.start()

    def window(self, seconds: float) -> tuple[Snapshot, Snapshot] | None:
        """The oldest snapshot within ``seconds`` of the newest, and the newest."""
        with self._lock:
            snapshots = list(self._snapshots)
        if len(snapshots) < 2:
            return None
        newest = snapshots[-1]
        oldest = next(s for s in snapshots if s.at >= newest.at - seconds - self.interval / 2)
        return (oldest, newest) if oldest is not newest else (snapshots[-2], newest)


def threshold_probability(trace_state: str) -> float | None:
    """The sampling probability an ``ot=th:<hex>`` tracestate entry records, else None."""
    for member in trace_state.split(","):
        key, _, value = member.strip().partition("=")
        if key != "ot":
            continue
        for field_ in value.split(";"):
            name, _, raw = field_.partition(":")
            if name == "th" and raw and len(raw) <= 14:
                try:
                    threshold = int(raw.ljust(14, "0"), 16)
                except ValueError:
                    return None
                return (MAX_THRESHOLD - threshold) / MAX_THRESHOLD
    return None


@dataclass
class Cluster:
    """How the spans of one service (or edge) fall into the traces read: k_i per trace."""

    traces: int = 0
    spans: int = 0
    squares: int = 0

    def add(self, spans_in_trace: int) -> None:
        self.traces += 1
        self.spans += spans_in_trace
        self.squares += spans_in_trace * spans_in_trace

    @property
    def design_effect(self) -> float:
        """sum(k^2) / sum(k): 1 when every trace has one such span, k when each has k."""
        return self.squares / self.spans if self.spans else 1.0


@dataclass
class Counts:
    """Calls, errors and duration buckets of one kind of series (counted or extrapolated)."""

    calls: float = 0.0
    errors: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)

    def add(self, other: Counts) -> None:
        self.calls += other.calls
        self.errors += other.errors
        for bound, count in other.buckets.items():
            self.buckets[bound] = self.buckets.get(bound, 0.0) + count


@dataclass
class Figures:
    """RED of one service or one edge over the window.

    ``counted``: series where each sampled span counted once; ``extrapolated``:
    series the collector's span metrics connector already weighted by 1/p
    (spans with an ``ot=th`` tracestate, ``sampling.method="extrapolated"``).
    """

    counted: Counts = field(default_factory=Counts)
    extrapolated: Counts = field(default_factory=Counts)

    def add(self, other: Figures) -> None:
        self.counted.add(other.counted)
        self.extrapolated.add(other.extrapolated)

    def to_dict(
        self, window_s: float, sampling: tuple[float, str], design_effect: float = 1.0
    ) -> dict[str, Any]:
        """Raw and sampling-corrected rates (with their standard error), error share, p50/p99.

        Raw is what was sampled (an extrapolated count times p); corrected is
        what it stands for (a counted count divided by p). Whole traces are
        sampled, so spans come in clusters of k per trace: the corrected count
        has variance (1 - p)/p^2 * sum(k^2), estimated as n * ``design_effect``
        * (1 - p) / p^2 for n raw spans (binomial when k = 1).
        """
        probability, source = sampling
        p = probability if probability > 0 else 1.0
        counted, extrapolated = self.counted, self.extrapolated
        raw = counted.calls + extrapolated.calls * p
        corrected = counted.calls / p + extrapolated.calls
        errors = counted.errors / p + extrapolated.errors
        buckets = {
            bound: counted.buckets.get(bound, 0.0) / p + extrapolated.buckets.get(bound, 0.0)
            for bound in set(counted.buckets) | set(extrapolated.buckets)
        }
        sigma = math.sqrt(max(raw, 0.0) * design_effect * (1 - p)) / p
        return {
            "calls": round(raw, 3),
            "rate_per_s": round(raw / window_s, 4),
            "error_rate": round(errors / corrected, 4) if corrected else 0.0,
            "p50_ms": _round(histogram_quantile(0.5, buckets)),
            "p99_ms": _round(histogram_quantile(0.99, buckets)),
            "sampling_probability": round(p, 6),
            "probability_from": source,
            "extrapolated_by_collector": round(extrapolated.calls / corrected, 4)
            if corrected
            else 0.0,
            "spans_per_trace": round(design_effect, 3),
            "corrected_calls": round(corrected, 2),
            "corrected_calls_stderr": round(sigma, 2),
            "corrected_rate_per_s": round(corrected / window_s, 4),
            "corrected_rate_stderr": round(sigma / window_s, 4),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _increase(before: float | None, now: float) -> float:
    # A series that went down was reset (a restarted collector): it counts from
    # zero; a series absent before began in the window (a restarted service has
    # a new resource, so new series: the old ones stop, and are not counted).
    if before is None or now < before:
        return now
    return now - before


def _delta(oldest: Snapshot, newest: Snapshot) -> dict[Who, Figures]:
    """Each series' increase over the window, summed per (kind, service, peer)."""
    figures: dict[Who, Figures] = {}
    for key, value in newest.series.items():
        name, pairs = key
        labels = dict(pairs)
        increase = _increase(oldest.series.get(key), value)
        who = (
            labels.get("span_kind", ""),
            labels.get("service_name", ""),
            labels.get("server_address", ""),
            labels.get("server_port", ""),
        )
        figure = figures.setdefault(who, Figures())
        extrapolated = labels.get("sampling_method") == "extrapolated"
        entry = figure.extrapolated if extrapolated else figure.counted
        if name.endswith("_total"):
            entry.calls += increase
            if labels.get("status_code") == ERROR:
                entry.errors += increase
        else:
            bound = float(labels["le"])
            entry.buckets[bound] = entry.buckets.get(bound, 0.0) + increase
    return figures


def trace_probability(trace: Trace) -> tuple[float, str] | None:
    """The head-sampling probability a trace was kept with, and where that was read.

    A parent-based sampler decides at the root, so the root's probability is
    the whole trace's: its ``ot=th`` tracestate, else its service's resource
    attribute ``tracelab.sampling.probability`` (the sampler it ran with).
    """
    for span in trace.roots():
        probability = threshold_probability(span.trace_state)
        if probability is not None:
            return probability, "tracestate ot=th"
        configured = span.resource.get(PROBABILITY_ATTRIBUTE)
        if isinstance(configured, int | float) and 0 < configured <= 1:
            return float(configured), "the services' sampler configuration"
    return None


def _callee(trace: Trace, span: Span) -> tuple[str, bool] | None:
    """Who a client span called, and whether that is a database."""
    servers = [child for child in trace.children_of(span) if child.kind == "server"]
    if servers:
        return servers[0].service, False
    system = span.attributes.get("db.system")
    return (str(system), True) if system else None


@dataclass
class Census:
    """What the traces of the window say that the span metrics cannot."""

    # (caller, server.address, server.port) -> the service that answered.
    peers: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # (caller, callee) -> how its client spans cluster in traces.
    edges: dict[tuple[str, str], Cluster] = field(default_factory=dict)
    # service -> how its server spans cluster in traces.
    services: dict[str, Cluster] = field(default_factory=dict)
    # service -> the probabilities of the sampled traces it is in.
    sampling: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    # Callees that are databases (a client span's ``db.system``), not services.
    databases: set[str] = field(default_factory=set)

    def probability(self, service: str, default: tuple[float, str]) -> tuple[float, str]:
        """The mean probability of ``service``'s traces, else ``default``."""
        values = self.sampling.get(service)
        if not values:
            return default
        return sum(p for p, _ in values) / len(values), values[-1][1]


def take_census(traces: Iterable[Trace]) -> Census:
    """One pass over the traces: peers, clusters, sampling probabilities."""
    census = Census()
    for trace in traces:
        servers: dict[str, int] = {}
        edges: dict[tuple[str, str], int] = {}
        for span in trace:
            if span.kind == "server":
                servers[span.service] = servers.get(span.service, 0) + 1
            elif span.kind == "client" and (called := _callee(trace, span)) is not None:
                callee, database = called
                if database:
                    census.databases.add(callee)
                address = str(span.attributes.get("server.address", ""))
                port = str(span.attributes.get("server.port", ""))
                census.peers[(span.service, address, port)] = callee
                edges[(span.service, callee)] = edges.get((span.service, callee), 0) + 1
        for service, count in servers.items():
            census.services.setdefault(service, Cluster()).add(count)
        for edge, count in edges.items():
            census.edges.setdefault(edge, Cluster()).add(count)
        found = trace_probability(trace)
        if found is not None:
            for service in {span.service for span in trace}:
                census.sampling.setdefault(service, []).append(found)
    return census


def service_map(
    window: tuple[Snapshot, Snapshot],
    traces: list[Trace],
    *,
    default_probability: tuple[float, str] = (1.0, "no sampling configured"),
    known_peers: Mapping[tuple[str, str], str] | None = None,
    dependencies: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The map document: nodes and edges with raw and corrected RED (see the module docstring).

    ``known_peers`` maps (address, port) to a service where the traces of
    the window show no answer (the stack's own service URLs).
    """
    oldest, newest = window
    window_s = max(newest.at - oldest.at, 1e-9)
    census = take_census(traces)
    by_address = dict(known_peers or {})

    nodes: dict[str, Figures] = {}
    edges: dict[tuple[str, str], Figures] = {}
    unknown: dict[tuple[str, str], Figures] = {}
    for (kind, service, address, port), entry in _delta(oldest, newest).items():
        if kind == SERVER:
            nodes.setdefault(service, Figures()).add(entry)
        elif kind == CLIENT:
            callee = census.peers.get((service, address, port)) or by_address.get((address, port))
            target = edges if callee else unknown
            target.setdefault((service, callee or f"{address}:{port}"), Figures()).add(entry)
    names = sorted(set(nodes) | {c for e in edges for c in e})

    def sampling(service: str) -> tuple[float, str]:
        return census.probability(service, default_probability)

    def effect(cluster: Cluster | None) -> float:
        return cluster.design_effect if cluster else 1.0

    return {
        "window_s": round(window_s, 1),
        "traces_read": len(traces),
        "services": [
            {
                "name": name,
                "kind": "database" if name in census.databases and name not in nodes else "service",
                **nodes.get(name, Figures()).to_dict(
                    window_s, sampling(name), effect(census.services.get(name))
                ),
            }
            for name in names
        ],
        "edges": [
            {
                "from": caller,
                "to": callee,
                **entry.to_dict(
                    window_s, sampling(caller), effect(census.edges.get((caller, callee)))
                ),
                "calls_in_traces": census.edges[(caller, callee)].spans
                if (caller, callee) in census.edges
                else 0,
            }
            for (caller, callee), entry in sorted(edges.items())
        ],
        "unattributed_peers": [
            {"from": caller, "peer": peer, **entry.to_dict(window_s, sampling(caller))}
            for (caller, peer), entry in sorted(unknown.items())
            if entry.counted.calls or entry.extrapolated.calls
        ],
        "backend_dependencies": dependencies,
    }


def service_addresses(services: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """(host, port) -> service name, from service base URLs (``{"db": "http://..."}``)."""
    addresses = {}
    for service, url in services.items():
        parts = urlsplit(url)
        if parts.hostname and parts.port:
            addresses[(parts.hostname, str(parts.port))] = service
    return addresses
