"""Read the collector's Prometheus endpoints: spans exported, span-derived RED numbers."""

from __future__ import annotations

import re
from collections.abc import Iterator

import requests

_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text: str) -> Iterator[tuple[str, dict[str, str], float]]:
    """``(name, labels, value)`` for every sample line of Prometheus text."""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        found = _SAMPLE.match(line)
        if not found:
            continue
        name, raw_labels, raw_value = found.groups()
        try:
            value = float(raw_value)
        except ValueError:
            continue
        yield name, dict(_LABEL.findall(raw_labels or "")), value


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
        for name, labels, value in samples(text)
        if name.startswith("otelcol_exporter_sent_spans")
        and labels.get("exporter", "").startswith(exporter_prefix)
    )


def red(text: str, service: str = "frontend") -> dict[str, float]:
    """Calls and errors of ``service``'s server spans, from the span metrics connector."""
    calls = errors = 0.0
    for name, labels, value in samples(text):
        if name != "traces_span_metrics_calls_total":
            continue
        if labels.get("service_name") != service or labels.get("span_kind") != "SPAN_KIND_SERVER":
            continue
        calls += value
        if labels.get("status_code") == "STATUS_CODE_ERROR":
            errors += value
    return {"calls": calls, "errors": errors}
