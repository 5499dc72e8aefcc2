"""OTLP export of the service's log records, beside the JSON lines on stderr.

Driven by the standard variables: ``OTEL_LOGS_EXPORTER`` (an entry point
name, :mod:`services.common.exporters`; ``none`` turns export off),
``OTEL_EXPORTER_OTLP_(LOGS_)PROTOCOL`` /
``_ENDPOINT`` / ``_TIMEOUT`` and ``OTEL_BLRP_*`` (the batch processor's
queue, batch size and delay). Every record logged through :mod:`logging`
goes to the OpenTelemetry logs SDK through the ``LoggingHandler`` of
``opentelemetry-instrumentation-logging``; the SDK takes the trace and span
ids of the record from the active context, so a line logged inside a span
carries that span's ids to the log store (Loki in Compose and Kubernetes).
The JSON lines on stderr stay as they are: the local stack's log files and
the console read them. Records the batch processor drops on a full queue
and records in failed exports are counted like lost spans
(:mod:`services.common.span_loss`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.resources import Resource

from services.common import exporters, span_loss
from services.common.config import ConfigError
from services.common.logs import LOCAL_ONLY

# The SDK's own loggers (a failed export, a full queue): exporting those would
# feed every export failure back into the next export.
_SDK_LOGGER_PREFIX = "opentelemetry"


def enabled() -> bool:
    """True unless ``OTEL_LOGS_EXPORTER=none``."""
    return exporters.exporter_name(exporters.LOGS) != "none"


def build_exporter() -> LogRecordExporter:
    """The log exporter ``OTEL_LOGS_EXPORTER`` names, through its entry point.

    As for spans (``telemetry.build_exporter``): unset, ``tracelab`` for
    ``http/protobuf``, the stock OTLP/HTTP exporter writing its request body
    directly (:class:`~services.common.otlp_log_encoding.FastOTLPLogExporter`);
    ``otlp`` the stock exporter for ``OTEL_EXPORTER_OTLP_(LOGS_)PROTOCOL``.
    """
    exporter = exporters.build(exporters.LOGS)
    if exporter is None:
        raise ConfigError("OTEL_LOGS_EXPORTER=none: no log exporter to build")
    return exporter


def build_processor(
    meter_provider: MeterProvider | None = None,
    exporter_factory: Callable[[], LogRecordExporter] = build_exporter,
) -> LogRecordProcessor | None:
    """The batch processor (``OTEL_BLRP_*``) over the OTLP exporter; None when export is off.

    With a ``meter_provider``, the records it drops on a full queue and the
    records of failed exports are counted there, as for spans
    (``span_loss.counted_processor``).
    """
    if not enabled():
        return None
    return span_loss.counted_processor(
        BatchLogRecordProcessor, exporter_factory(), span_loss.LOG_RECORDS, meter_provider
    )


def build_provider(
    resource: Resource,
    processor: LogRecordProcessor | None = None,
    meter_provider: MeterProvider | None = None,
) -> LoggerProvider | None:
    """A logger provider with the service's resource, or None when no log is exported.

    ``processor=None`` means :func:`build_processor` (the environment decides),
    counting its losses into ``meter_provider``; unit tests pass a simple
    processor over an in-memory exporter.
    """
    processor = processor or build_processor(meter_provider)
    if processor is None:
        return None
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(processor)
    return provider


def _exportable(record: logging.LogRecord) -> bool:
    return not record.name.startswith(_SDK_LOGGER_PREFIX) and not getattr(record, LOCAL_ONLY, False)


def build_handler(provider: LoggerProvider) -> logging.Handler:
    """A :mod:`logging` handler that hands records to ``provider``.

    The SDK's own records and ``LOCAL_ONLY`` ones (:mod:`services.common.logs`) are excluded.
    """
    handler = LoggingHandler(logger_provider=provider)
    handler.addFilter(_exportable)
    return handler


def attach(provider: LoggerProvider) -> logging.Handler:
    """Add :func:`build_handler` to the root logger, beside the JSON handler; return it."""
    handler = build_handler(provider)
    logging.getLogger().addHandler(handler)
    return handler
