"""The one Prometheus text-format reader of tracelab, and the collector's span counts.

:func:`parse` (and :func:`exemplars`) read any exposition, on
``prometheus_client``'s parsers; every reader of a ``/metrics`` page in the
lab, the tests and the benchmark goes through them. The rest reads the
collector's own metrics (:8888) for span counts: metric names changed over
collector versions (``_total`` suffixes come and go), so lookups accept both
spellings and sum over every label set.
"""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

Sample = tuple[str, dict[str, str], float]

ACCEPTED = "otelcol_receiver_accepted_spans"
REFUSED = "otelcol_receiver_refused_spans"
RECEIVER_FAILED = "otelcol_receiver_failed_spans"
SENT = "otelcol_exporter_sent_spans"
SEND_FAILED = "otelcol_exporter_send_failed_spans"
ENQUEUE_FAILED = "otelcol_exporter_enqueue_failed_spans"


def parse(text: str, *, openmetrics: bool = False) -> list[Sample]:
    """Every sample of a Prometheus text (or OpenMetrics) exposition: (name, labels, value).

    Parsed by ``prometheus_client``'s parsers, which read Prometheus 3's
    quoted UTF-8 names too (``{"my.metric", le="1"}``); text it cannot parse
    raises ``ValueError`` (a scrape of something that is not a metrics endpoint).
    """
    families = openmetrics_families if openmetrics else text_string_to_metric_families
    return [
        (sample.name, dict(sample.labels), float(sample.value))
        for family in families(text)
        for sample in family.samples
    ]


def exemplars(text: str) -> list[tuple[str, dict[str, str]]]:
    """(sample name, exemplar labels) of every exemplar of an OpenMetrics exposition."""
    return [
        (sample.name, dict(sample.exemplar.labels))
        for family in openmetrics_families(text)
        for sample in family.samples
        if sample.exemplar is not None
    ]


def total(samples: Iterable[Sample], name: str, **labels: str) -> float:
    """Sum of ``name`` (or ``name_total``) over the label sets that include ``labels``
    (all of them when none are given); 0 when absent."""
    names = {name, f"{name}_total"}
    values = [
        value
        for sample_name, sample_labels, value in samples
        if sample_name in names and all(sample_labels.get(k) == v for k, v in labels.items())
    ]
    return math.fsum(values)


# The services' own span-loss counters (services/common/span_loss.py), as the
# collector's Prometheus exporter shows them (``job`` is the service name).
SERVICE_PROCESSED = "otel_sdk_processor_span_processed"
SERVICE_EXPORTED = "tracelab_exporter_spans"
SERVICE_EXPORTS = "tracelab_exporter_exports"


def service_loss(samples: Iterable[Sample], service: str) -> dict[str, int]:
    """One service's span-loss counters: dropped on a full queue, lost in failed exports."""
    samples = list(samples)
    return {
        "dropped_queue_full": int(
            total(samples, SERVICE_PROCESSED, job=service, error_type="queue_full")
        ),
        "export_failed_spans": int(total(samples, SERVICE_EXPORTED, job=service, outcome="failed")),
        "failed_exports": int(
            total(samples, SERVICE_EXPORTS, job=service, signal="traces", outcome="failed")
        ),
        "exported_spans": int(total(samples, SERVICE_EXPORTED, job=service, outcome="exported")),
    }


@dataclass(frozen=True)
class SpanCounters:
    """The collector's cumulative span counters at one instant."""

    accepted: float = 0.0
    refused: float = 0.0
    failed: float = 0.0
    sent: float = 0.0
    send_failed: float = 0.0

    @classmethod
    def from_samples(cls, samples: list[Sample]) -> SpanCounters:
        """Pick the counters out of parsed samples."""
        return cls(
            accepted=total(samples, ACCEPTED),
            refused=total(samples, REFUSED),
            failed=total(samples, RECEIVER_FAILED),
            sent=total(samples, SENT),
            send_failed=total(samples, SEND_FAILED) + total(samples, ENQUEUE_FAILED),
        )

    def minus(self, earlier: SpanCounters) -> SpanCounters:
        """The increase since ``earlier``."""
        return SpanCounters(
            accepted=self.accepted - earlier.accepted,
            refused=self.refused - earlier.refused,
            failed=self.failed - earlier.failed,
            sent=self.sent - earlier.sent,
            send_failed=self.send_failed - earlier.send_failed,
        )

    @property
    def dropped(self) -> float:
        """Spans the collector refused, failed to receive or failed to send."""
        return self.refused + self.failed + self.send_failed


def scrape(url: str, timeout: float = 2.0) -> SpanCounters | None:
    """The collector's span counters from its metrics URL; None when it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            text = response.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return None
    try:
        return SpanCounters.from_samples(parse(text))
    except ValueError:
        return None
