"""OTLP export of the service's log records, beside the JSON lines on stderr.

Driven by the standard variables: ``OTEL_LOGS_EXPORTER`` (``otlp``, the
default, or ``none``), ``OTEL_EXPORTER_OTLP_(LOGS_)PROTOCOL`` /
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
import os
from collections.abc import Callable

from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.resources import Resource

from services.common import span_loss
from services.common.config import OTLP_ENCODER_VAR, OTLP_PROTOCOLS, ConfigError, otlp_protocol
from services.common.logs import LOCAL_ONLY

LOGS_EXPORTER_VAR = "OTEL_LOGS_EXPORTER"

# The SDK's own loggers (a failed export, a full queue): exporting those would
# feed every export failure back into the next export.
_SDK_LOGGER_PREFIX = "opentelemetry"


def exporter_name() -> str:
    """``OTEL_LOGS_EXPORTER``: ``otlp`` (the specification's default) or ``none``."""
    name = os.environ.get(LOGS_EXPORTER_VAR, "").strip().lower() or "otlp"
    if name not in ("otlp", "none"):
        raise ConfigError(f"{LOGS_EXPORTER_VAR} must be otlp or none, got {name!r}")
    return name


def enabled() -> bool:
    """True unless ``OTEL_LOGS_EXPORTER=none``."""
    return exporter_name() != "none"


def build_exporter() -> LogRecordExporter:
    """An OTLP log exporter for ``OTEL_EXPORTER_OTLP_(LOGS_)PROTOCOL``.

    As for spans (``telemetry.build_exporter``): ``grpc`` is the stock
    OTLP/gRPC exporter, ``http/protobuf`` (the default) the stock OTLP/HTTP
    exporter writing its request body directly
    (:class:`~services.common.otlp_log_encoding.FastOTLPLogExporter`), and
    ``TRACELAB_OTLP_ENCODER=stock`` the stock OTLP/HTTP exporter as it is.
    """
    protocol = otlp_protocol("LOGS")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        return OTLPLogExporter()
    if protocol == "http/protobuf" and os.environ.get(OTLP_ENCODER_VAR, "direct") == "stock":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        return OTLPLogExporter()
    if protocol == "http/protobuf":
        from services.common.otlp_log_encoding import FastOTLPLogExporter

        return FastOTLPLogExporter()
    raise ConfigError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL {protocol!r} is not one of {', '.join(OTLP_PROTOCOLS)}"
    )


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
