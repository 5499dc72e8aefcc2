"""What one log line costs the service, with and without the OTLP log export.

A line here is the access log line every request writes
(``services.common.logs.log_access``: a message and four extra fields),
logged inside a SERVER span so it carries trace ids. Both tests write the
JSON line the services write (to /dev/null); the second also hands the
record to the OTLP log export the services run (``log_export``: the
instrumentation's LoggingHandler, the SDK's batch processor, the OTLP/HTTP
exporter POSTing to the sink in another process), with the services'
direct encoder (``tracelab``, services.common.otlp_log_encoding) and, for
comparison, the stock one. CPU is process CPU time, all threads, so the
batch thread's encoding and POSTs count.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as stock_encode_logs
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.sampling import DEFAULT_ON
from opentelemetry.trace import SpanKind

from services.common import log_export, otlp_log_encoding, telemetry
from services.common.logs import JsonFormatter, log_access
from services.common.otlp_log_encoding import FastOTLPLogExporter

LINES_PER_ROUND = 512


@pytest.fixture
def access_logger() -> Iterator[logging.Logger]:
    """The access logger with the services' JSON handler only, writing to /dev/null."""
    logger = logging.getLogger("tracelab.access")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    with open(os.devnull, "w") as devnull:
        handler = logging.StreamHandler(devnull)
        handler.setFormatter(JsonFormatter("microbench"))
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO)
        try:
            yield logger
        finally:
            logger.handlers[:], logger.propagate, logger.level = saved


# Spans are made but dropped at once: only the log line comes on top of them.
_TRACER = telemetry.build_provider(
    "microbench", sampler=DEFAULT_ON, span_processor=SpanProcessor()
).get_tracer("microbench")


def lines_in_a_span(count: int) -> None:
    """``count`` access lines, each inside its own sampled SERVER span."""
    for _ in range(count):
        with _TRACER.start_as_current_span("GET /api/users/<user_id>", kind=SpanKind.SERVER):
            log_access("GET", "/api/users/42", 200, 3.2)


def timed(run, cpu: list[float]):
    """``run``, recording its process CPU time into ``cpu``."""

    def call() -> None:
        start = time.process_time()
        run()
        cpu.append(time.process_time() - start)

    return call


def median_us_per_line(cpu: list[float]) -> float:
    return sorted(cpu)[len(cpu) // 2] * 1e6 / LINES_PER_ROUND


def test_json_line_only(benchmark, per_span, access_logger) -> None:
    cpu: list[float] = []
    per_span["spans_per_call"] = LINES_PER_ROUND
    per_span["what"] = "access log line inside a span, JSON to stderr only (per line)"
    benchmark.pedantic(
        timed(lambda: lines_in_a_span(LINES_PER_ROUND), cpu), rounds=15, iterations=1
    )
    per_span["cpu_us_per_span"] = median_us_per_line(cpu)


EXPORTERS = {"stock": OTLPLogExporter, "tracelab": FastOTLPLogExporter}


@pytest.mark.parametrize("encoder", list(EXPORTERS))
def test_json_line_and_otlp_export(benchmark, per_span, access_logger, sink, encoder) -> None:
    provider = log_export.build_provider(
        telemetry.build_resource("microbench", "0", "bench"),
        BatchLogRecordProcessor(EXPORTERS[encoder](endpoint=sink.logs_endpoint)),
    )
    assert provider is not None
    access_logger.addHandler(log_export.build_handler(provider))
    before = sink.stats()["logs"]
    cpu: list[float] = []

    def run() -> None:
        lines_in_a_span(LINES_PER_ROUND)
        provider.force_flush()

    per_span["spans_per_call"] = LINES_PER_ROUND
    per_span["what"] = f"the same line, also exported: batch + {encoder} encode + POST (per line)"
    benchmark.pedantic(timed(run, cpu), rounds=15, iterations=1)
    per_span["cpu_us_per_span"] = median_us_per_line(cpu)
    provider.shutdown()
    assert sink.stats()["logs"] - before == len(cpu) * LINES_PER_ROUND


LOG_ENCODERS = {
    "stock": lambda batch: stock_encode_logs(batch).SerializePartialToString(),
    "tracelab": otlp_log_encoding.encode_logs,
}


@pytest.mark.parametrize("encoder", list(LOG_ENCODERS))
def test_encode_log_batch(benchmark, per_span, access_logger, encoder) -> None:
    """OTLP protobuf encoding of 512 access lines, per line (the batch thread's main cost)."""
    exporter = InMemoryLogRecordExporter()
    provider = log_export.build_provider(
        telemetry.build_resource("microbench", "0", "bench"), SimpleLogRecordProcessor(exporter)
    )
    assert provider is not None
    access_logger.addHandler(log_export.build_handler(provider))
    lines_in_a_span(LINES_PER_ROUND)
    batch = list(exporter.get_finished_logs())
    per_span["spans_per_call"] = len(batch)
    per_span["what"] = f"OTLP protobuf encoding of {len(batch)} access lines, {encoder} encoder"
    payload = benchmark.pedantic(lambda: LOG_ENCODERS[encoder](batch), rounds=20, iterations=1)
    decoded = ExportLogsServiceRequest()
    decoded.ParseFromString(payload)
    assert decoded == stock_encode_logs(batch)
