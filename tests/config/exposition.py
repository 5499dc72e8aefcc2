"""The metrics the stack exposes to Prometheus, as the real collector exported them.

``recorded/span-metrics.txt`` is the page of the collector's Prometheus
exporter (:8889, OpenMetrics, as Prometheus scrapes it), recorded by
tests/config/test_binaries.py from the real collector running
infra/otel-collector/config.yaml after a service process, set up by the
services' own ``services.common.telemetry``, sent it a server and a client
span: the span_metrics connector's series and the services' span-loss
metrics. test_binaries records the page again on every run and fails when
its metric or label names differ from the file (``TRACELAB_RECORD=1``
rewrites it). Prometheus adds, per scrape target, the scrape series and the
``job``/``instance`` labels.

Not recorded, because no dashboard queries them: the collector's own
telemetry (:8888), Jaeger's and Tempo's metrics and Tempo's
metrics-generator series (Grafana's service map reads those itself).
Record their page here before a dashboard uses one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tracelab.bench import promtext

RECORDED = Path(__file__).with_name("recorded") / "span-metrics.txt"
# The series Prometheus writes for every target it scrapes.
SCRAPE_SERIES = (
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
)
TARGET_LABELS = frozenset({"job", "instance"})


@dataclass(frozen=True)
class Vocabulary:
    """Metric names with the label names each carries, and every label value seen."""

    labels: Mapping[str, frozenset[str]]
    values: Mapping[str, frozenset[str]]


def vocabulary(page: str) -> Vocabulary:
    """The vocabulary of an OpenMetrics page."""
    labels: dict[str, set[str]] = defaultdict(set)
    values: dict[str, set[str]] = defaultdict(set)
    for name, sample_labels, _ in promtext.parse(page, openmetrics=True):
        labels[name] |= set(sample_labels)
        for label, value in sample_labels.items():
            values[label].add(value)
    return Vocabulary(
        {name: frozenset(names) for name, names in labels.items()},
        {label: frozenset(seen) for label, seen in values.items()},
    )


@cache
def exposed() -> Vocabulary:
    """What a query against the stack's Prometheus can find (the recorded page + scrapes)."""
    page = vocabulary(RECORDED.read_text(encoding="utf-8"))
    labels = {name: names | TARGET_LABELS for name, names in page.labels.items()}
    labels |= {name: TARGET_LABELS for name in SCRAPE_SERIES}
    return Vocabulary(labels, page.values)
