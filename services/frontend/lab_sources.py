"""Where the lab console reads from: the admin API, Jaeger's query API, the JSON logs.

Everything here runs server-side in the frontend, with the admin token of
``services.common.admin``; the browser only ever talks to ``/lab/api/*``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import requests
from opentelemetry.instrumentation.utils import suppress_instrumentation

from services.common.admin import SCENARIOS_PATH, TOKEN_HEADER, admin_token
from services.common.errors import ApiError
from services.common.faults import SCENARIOS

# Read at most this much of the end of each log file (the newest lines).
LOG_TAIL_BYTES = 4 * 1024 * 1024
MAX_LOG_LINES = 200


def _untraced_call(method: str, url: str, timeout: float, **kwargs: Any) -> requests.Response:
    # The console's own plumbing must not show up in the traces it displays.
    with suppress_instrumentation():
        try:
            return requests.request(method, url, timeout=timeout, **kwargs)
        except requests.RequestException:
            raise ApiError(
                503, "service_unavailable", f"{url.split('/')[2]} is unreachable"
            ) from None


class ScenarioSwitchboard:
    """The admin API of every service, as one list of scenarios."""

    def __init__(self, services: Mapping[str, str], timeout: float = 5.0) -> None:
        self.services = dict(services)
        self.timeout = timeout

    def _admin(self, method: str, service: str, path: str) -> Any:
        url = self.services[service].rstrip("/") + path
        response = _untraced_call(
            method, url, self.timeout, headers={TOKEN_HEADER: admin_token()}, json=None
        )
        if response.status_code != 200:
            raise ApiError(
                502, "bad_gateway", f"{service} admin API answered {response.status_code}"
            )
        return response.json()

    def listing(self) -> list[dict[str, Any]]:
        """Every scenario with its owners and whether it is on in all of them."""
        active: dict[str, bool] = {}
        for name, scenario in SCENARIOS.items():
            states = []
            for service in scenario.services:
                if service in self.services:
                    body = self._admin("GET", service, f"{SCENARIOS_PATH}/{name}")
                    states.append(bool(body["active"]))
            active[name] = bool(states) and all(states)
        return [
            {
                "name": name,
                "services": list(s.services),
                "summary": s.summary,
                "active": active[name],
            }
            for name, s in SCENARIOS.items()
        ]

    def switch(self, name: str, on: bool) -> dict[str, Any]:
        """Switch ``name`` on or off in every service that owns it."""
        if name not in SCENARIOS:
            raise ApiError(404, "unknown_scenario", f"no scenario {name!r}")
        method = "PUT" if on else "DELETE"
        for service in SCENARIOS[name].services:
            if service in self.services:
                self._admin(method, service, f"{SCENARIOS_PATH}/{name}")
        return {"name": name, "active": on}


def simplify_jaeger_trace(payload: Any) -> list[dict[str, Any]]:
    """Jaeger's ``/api/traces/{id}`` answer as a flat, depth-first span list.

    Each span: ``span_id``, ``parent_id``, ``depth``, ``service``, ``name``,
    ``kind``, ``status`` (error when the ``error`` or ``otel.status_code`` tag
    says so), ``start_ms`` (from the trace's first span) and ``duration_ms``.
    """
    data = payload.get("data") if isinstance(payload, dict) else None
    if not data:
        return []
    trace = data[0]
    processes = trace.get("processes") or {}
    spans = {}
    for raw in trace.get("spans") or []:
        tags = {tag.get("key"): tag.get("value") for tag in raw.get("tags") or []}
        parent = next(
            (
                r.get("spanID")
                for r in raw.get("references") or []
                if r.get("refType") == "CHILD_OF"
            ),
            None,
        )
        error = tags.get("error") in (True, "true") or tags.get("otel.status_code") == "ERROR"
        spans[raw["spanID"]] = {
            "span_id": raw["spanID"],
            "parent_id": parent,
            "service": processes.get(raw.get("processID"), {}).get("serviceName", "?"),
            "name": raw.get("operationName", ""),
            "kind": str(tags.get("span.kind", "internal")),
            "status": "error" if error else "ok",
            "db": bool(tags.get("db.system")),
            "start_us": int(raw.get("startTime", 0)),
            "duration_ms": round(int(raw.get("duration", 0)) / 1000, 3),
        }
    origin = min((s["start_us"] for s in spans.values()), default=0)
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans.values():
        parent = span["parent_id"] if span["parent_id"] in spans else None
        children.setdefault(parent, []).append(span)
    ordered: list[dict[str, Any]] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s["start_us"]):
            start_us = span.pop("start_us")
            ordered.append(
                {**span, "depth": depth, "start_ms": round((start_us - origin) / 1000, 3)}
            )
            walk(span["span_id"], depth + 1)

    walk(None, 0)
    return ordered


def looks_complete(spans: list[dict[str, Any]]) -> bool:
    """True when no span waits for a parent and every HTTP client span has its server.

    Spans reach Jaeger in batches, one per service process; in this lab every
    HTTP call goes to an instrumented service, so a client span without a
    child means that service's batch has not arrived yet.
    """
    if not spans:
        return False
    ids = {s["span_id"] for s in spans}
    parents = {s["parent_id"] for s in spans}
    if any(s["parent_id"] and s["parent_id"] not in ids for s in spans):
        return False
    return all(s["kind"] != "client" or s["db"] or s["span_id"] in parents for s in spans)


class JaegerSource:
    """Jaeger's query API, read server-side (``JAEGER_QUERY_URL``)."""

    def __init__(self, query_url: str, timeout: float = 5.0) -> None:
        self.query_url = query_url.rstrip("/")
        self.timeout = timeout

    def spans(self, trace_id: str) -> list[dict[str, Any]]:
        """The simplified span list of ``trace_id`` (empty while Jaeger has none of it)."""
        response = _untraced_call("GET", f"{self.query_url}/api/traces/{trace_id}", self.timeout)
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise ApiError(502, "bad_gateway", f"jaeger answered {response.status_code}")
        return simplify_jaeger_trace(response.json())


def _tail_lines(path: Path, max_bytes: int) -> Iterator[str]:
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - max_bytes))
        if size > max_bytes:
            handle.readline()  # a partial first line
        for raw in handle:
            yield raw.decode("utf-8", "replace")


class LogSource:
    """The services' JSON log files (local mode: ``<run dir>/logs/*.log``)."""

    def __init__(self, log_dir: Path | None) -> None:
        self.log_dir = log_dir

    def lines(self, trace_id: str) -> list[dict[str, Any]]:
        """Every JSON log line carrying ``trace_id``, oldest first (at most 200)."""
        if self.log_dir is None or not self.log_dir.is_dir():
            return []
        found = []
        for path in sorted(self.log_dir.glob("*.log")):
            for line in _tail_lines(path, LOG_TAIL_BYTES):
                if trace_id not in line:
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(entry, dict) and entry.get("trace_id") == trace_id:
                    found.append(entry)
        found.sort(key=lambda e: str(e.get("time", "")))
        return found[-MAX_LOG_LINES:]
