"""Read the collector's Prometheus endpoints: spans exported, span-derived RED numbers."""

from __future__ import annotations

import time

import requests

from tracelab.bench.promtext import parse


def scrape(url: str) -> str:
    """The text of a ``/metrics`` endpoint ("" when it does not answer)."""
    try:
        response = requests.get(url, timeout=5)
    except requests.RequestException:
        return ""
    return response.text if response.status_code == 200 else ""


def exported_spans(text: str, exporter_prefix: str = "otlp_grpc/jaeger") -> float:
    """Spans the collector sent to Jaeger (``otelcol_exporter_sent_spans``)."""
    return sum(
        value
        for name, labels, value in parse(text)
        if name.startswith("otelcol_exporter_sent_spans")
        and labels.get("exporter", "").startswith(exporter_prefix)
    )


def red(text: str, service: str = "frontend") -> dict[str, float]:
    """Calls and errors of ``service``'s server spans, from the span metrics connector."""
    calls = errors = 0.0
    for name, labels, value in parse(text):
        if name != "traces_span_metrics_calls_total":
            continue
        if labels.get("service_name") != service or labels.get("span_kind") != "SPAN_KIND_SERVER":
            continue
        calls += value
        if labels.get("status_code") == "STATUS_CODE_ERROR":
            errors += value
    return {"calls": calls, "errors": errors}


def settled(url: str, minimum_s: float = 12.0, quiet_s: float = 6.0, limit_s: float = 60.0) -> str:
    """The span metrics at ``url`` once they stopped changing.

    Spans leave the services in batches (every 5 s) and the span metrics are
    flushed every 5 s: wait ``minimum_s``, then until two scrapes ``quiet_s``
    apart agree on the frontend's calls (at most ``limit_s`` more).
    """
    time.sleep(minimum_s)
    previous = red(scrape(url))
    deadline = time.monotonic() + limit_s
    while True:
        time.sleep(quiet_s)
        text = scrape(url)
        current = red(text)
        if current == previous or time.monotonic() > deadline:
            return text
        previous = current
