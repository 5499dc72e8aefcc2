"""The integration tier: a throwaway PostgreSQL server for the whole session.

The server is a private cluster in a temporary directory, started with the
machine's ``initdb``/``pg_ctl`` through the stack runner's
:class:`tracelab.stack.postgres.PostgresCluster` (which runs them as the
``postgres`` user when we are root) on a free port of 127.0.0.1, and stopped
(fast mode) at the end. Spans of the code under test go to an in-memory
exporter (the ``spans`` fixture).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common import telemetry
from tracelab.stack.ports import find_free_port
from tracelab.stack.postgres import PostgresCluster, find_pg_binaries

PG_START_TIMEOUT_S = 60

_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """The DSN of an empty ``tracelab`` database on a fresh PostgreSQL server."""
    # The server user must traverse the directory: mkdtemp makes it 0700.
    root = Path(tempfile.mkdtemp(prefix="tracelab-it-"))
    root.chmod(0o755)
    cluster = PostgresCluster(root / "pg", root / "postgres.log", find_pg_binaries())
    try:
        cluster.check_prerequisites()
        cluster.initialize()
        port = find_free_port()
        starting = cluster.start(port, wait_timeout=PG_START_TIMEOUT_S)
        if starting.wait(timeout=PG_START_TIMEOUT_S + 10) != 0:
            log = (root / "postgres.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"PostgreSQL did not start on port {port}:\n{log}", pytrace=False)
        yield cluster.create_app_database(port)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


class SpanRecorder:
    """Spans finished since the test started."""

    def all(self) -> list[ReadableSpan]:
        """Every finished span, in finishing order."""
        return list(_EXPORTER.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        """The finished spans called ``name``."""
        return [span for span in self.all() if span.name == name]


@pytest.fixture(scope="session")
def _span_export() -> None:
    # Runs after collection: when the unit tier's conftest already set the
    # global provider (OpenTelemetry allows one), add our exporter to it.
    processor = SimpleSpanProcessor(_EXPORTER)
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.add_span_processor(processor)
    else:
        # Log records go nowhere: no collector runs for this tier.
        telemetry.init(
            "tracelab-integration",
            span_processor=processor,
            log_processor=SimpleLogRecordProcessor(InMemoryLogRecordExporter()),
        )


@pytest.fixture
def spans(_span_export) -> SpanRecorder:
    """Spans recorded during this test only."""
    _EXPORTER.clear()
    return SpanRecorder()
