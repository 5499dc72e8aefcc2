"""Unit tests run every service in-process with in-memory span and log exporters."""

from __future__ import annotations

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common import (
    # Imported before telemetry.init, as every aiohttp service does: it sets the
    # aiohttp server instrumentation's exclusions, which instrumenting reads.
    aiohttp_support,  # noqa: F401
    telemetry,
)

_EXPORTER = InMemorySpanExporter()
_LOG_EXPORTER = InMemoryLogRecordExporter()
# One global provider for the whole unit run: OpenTelemetry allows setting it once.
telemetry.init(
    "tracelab-unit",
    span_processor=SimpleSpanProcessor(_EXPORTER),
    log_processor=SimpleLogRecordProcessor(_LOG_EXPORTER),
)


class SpanRecorder:
    """The spans finished since the test started, with small lookup helpers."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def all(self):
        """Every finished span, in finishing order."""
        return list(self.exporter.get_finished_spans())

    def named(self, name: str):
        """The finished spans called ``name``."""
        return [span for span in self.all() if span.name == name]

    def one(self, name: str):
        """The single finished span called ``name`` (fails on zero or several)."""
        found = self.named(name)
        assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in self.all()]}"
        return found[0]


@pytest.fixture
def spans() -> SpanRecorder:
    """Spans recorded during this test only."""
    _EXPORTER.clear()
    return SpanRecorder(_EXPORTER)


@pytest.fixture
def exported_logs() -> InMemoryLogRecordExporter:
    """The log records the OTLP log export received during this test only."""
    _LOG_EXPORTER.clear()
    return _LOG_EXPORTER
