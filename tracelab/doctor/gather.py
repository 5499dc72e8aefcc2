"""Read the evidence from the real programs, and run every check on it.

Probes go to the collector's OTLP ports, metrics pages are read with the
project's one Prometheus reader (:mod:`tracelab.bench.promtext`), traces
come from Jaeger through :class:`~tracelab.shapes.backends.JaegerClient`,
logs are the services' JSON lines. A source that does not answer makes its
check SKIP (with why), never crash the report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import requests

from tracelab.bench import promtext
from tracelab.doctor import checks
from tracelab.doctor.model import CheckResult
from tracelab.doctor.probe import probe
from tracelab.doctor.target import Target
from tracelab.shapes.backends import BackendError, JaegerClient
from tracelab.shapes.model import Trace
from tracelab.shapes.query import TraceQuery

TRACES_PER_SERVICE = 50
# A service log is read from its end: enough for the window at the lab's log rate.
LOG_TAIL_BYTES = 4 * 1024 * 1024


def probe_endpoints(target: Target) -> list[checks.EndpointProbes]:
    """Every endpoint in use: its protocol at its port, the other protocol there, and both
    protocols at the collector's other OTLP port."""
    entries = []
    for endpoint, services in target.endpoints().items():
        host, port = endpoint.host, endpoint.port
        http_url = endpoint.http_traces_url
        found = [probe(endpoint.protocol, host, port, http_url)]
        found.append(probe(checks.other_protocol(endpoint.protocol), host, port))
        sibling = target.sibling_port(port)
        if sibling is not None:
            found += [probe("grpc", host, sibling), probe("http/protobuf", host, sibling)]
        entries.append(checks.EndpointProbes(endpoint, services, found))
    return entries


def scrape(url: str | None) -> list[promtext.Sample] | None:
    """Every sample of a Prometheus endpoint; None when it is not given or does not answer."""
    if not url:
        return None
    try:
        response = requests.get(url, timeout=5)
        response.raise_for_status()
        return promtext.parse(response.text)
    except (requests.RequestException, ValueError):
        return None


def _tail(path: Path) -> bytes:
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - LOG_TAIL_BYTES))
        return handle.read()


def log_entries(path: Path, since: float) -> Iterator[dict[str, object]]:
    """The JSON log lines of ``path`` written at or after ``since`` (Unix seconds)."""
    for raw in _tail(path).splitlines():
        try:
            entry = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(entry, dict):
            continue
        try:
            when = datetime.fromisoformat(str(entry.get("time"))).timestamp()
        except ValueError:
            continue
        if when >= since:
            yield entry


def log_trouble(target: Target, since: float) -> dict[str, checks.LogTrouble | None]:
    """Per service: the exporter trouble in its log (None when it has no readable log)."""
    found: dict[str, checks.LogTrouble | None] = {}
    for service in target.services:
        if service.log is None or not service.log.is_file():
            found[service.name] = None
            continue
        found[service.name] = checks.exporter_trouble(list(log_entries(service.log, since)))
    return found


def recent_traces(
    client: JaegerClient, services: list[str], start: float, end: float
) -> list[Trace]:
    """The newest traces each service is in, each trace once."""
    traces: dict[str, Trace] = {}
    known = set(client.services())
    for service in services:
        if service not in known:
            continue
        query = TraceQuery(service=service, start=start, end=end, limit=TRACES_PER_SERVICE)
        for trace in client.find_traces(query):
            traces.setdefault(str(trace.trace_id), trace)
    return list(traces.values())


def run(
    target: Target,
    *,
    min_sampling: float = checks.DEFAULT_MIN_SAMPLING,
    skew_tolerance_ms: float = checks.DEFAULT_SKEW_TOLERANCE_MS,
) -> list[CheckResult]:
    """Every check against ``target``, in the order of :data:`checks.CHECKS`."""
    end = time.time()
    start = end - target.lookback_s
    names = [service.name for service in target.services]
    traces: list[Trace] | None = None
    find = None
    if target.query_url:
        client = JaegerClient(target.query_url, timeout=10)
        try:
            traces = recent_traces(client, names, start, end + 1)

            def find(service: str, low: float, high: float) -> list[Trace]:
                return client.find_traces(
                    TraceQuery(service=service, start=low, end=high, limit=50)
                )

        except (BackendError, requests.RequestException):
            traces = None
    return [
        checks.check_endpoints(probe_endpoints(target)),
        checks.check_service_loss(
            names, scrape(target.service_metrics_url), log_trouble(target, start)
        ),
        checks.check_collector(scrape(target.collector_metrics_url)),
        checks.check_sampling(target.services, traces or [], min_sampling),
        checks.check_processor(target.services, traces or []),
        checks.check_propagation(traces, find),
        checks.check_clock_skew(traces, skew_tolerance_ms),
    ]
