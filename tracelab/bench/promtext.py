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


def total(samples: Iterable[Sample], name: str) -> float:
    """Sum of ``name`` (or ``name_total``) over all label sets; 0 when absent."""
    names = {name, f"{name}_total"}
    values = [value for sample_name, _, value in samples if sample_name in names]
    return math.fsum(values)


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
