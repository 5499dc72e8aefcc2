"""The one place that sets up OpenTelemetry for a tracelab service process.

Everything is driven by the standard ``OTEL_*`` environment variables:
``OTEL_SDK_DISABLED``, ``OTEL_TRACES_SAMPLER``/``_ARG``,
``OTEL_TRACES_EXPORTER``/``OTEL_LOGS_EXPORTER`` (entry point names,
:mod:`services.common.exporters`), ``OTEL_EXPORTER_OTLP_*``, ``OTEL_BSP_*``,
``OTEL_BLRP_*``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SERVICE_NAME``. Call
:func:`init` once per process, after any fork (gunicorn runs it in each
worker) and after ``logs.configure_logging``, before the app handles requests.

``TRACELAB_INSTRUMENTATION=zero-code`` (:mod:`services.common.launch`) runs
the service under ``opentelemetry-instrument``: the distro's configurator has
built the tracer, meter and logger providers from the same ``OTEL_*``
variables and instrumented every installed instrumentation library before
this module is imported, so :func:`init` builds no provider and instruments
nothing. It still does what only the lab does: the business spans stay
manual (:func:`tracer`), the samplers are the same ``opentelemetry_traces_sampler``
entry points (the configurator loads them by ``OTEL_TRACES_SAMPLER``), the
resource gets the lab's attributes through the ``tracelab`` resource detector
(:class:`services.common.resource.TracelabResourceDetector`), health and admin URLs are excluded
through ``OTEL_PYTHON_*_EXCLUDED_URLS``, log lines carry trace ids (the
JSON formatter reads the active span) and, with log export on, the lab's
filtered log handler is attached to the configurator's logger provider.
What zero-code does differently:

- lost spans: the SDK's batch processor counts its queue-full drops into the
  global meter provider, read by ``span_loss.LossLogReader`` (the loss log
  line and the OTLP metric), but failed exports are not counted (the
  configurator builds the exporter; nothing wraps it in
  ``span_loss.CountingExporter``), and ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED``
  is on for the whole process, so the SDK also counts every span started;
- the instrumentations report their HTTP metrics to the global meter
  provider (programmatic: a no-op meter);
- the configurator builds the exporter ``OTEL_TRACES_EXPORTER`` names
  through the ``opentelemetry_traces_exporter`` entry points (the launcher
  passes the name :func:`build_exporter` would resolve: ``tracelab`` by
  default), and ``TRACELAB_SPAN_PROCESSOR=simple`` is not available (the configurator
  always builds a batch processor);
- ``tracelab.span_processor`` is still set on the resource (``batch``).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry._logs import get_logger_provider, set_logger_provider
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.metrics import MeterProvider
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import Sampler
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from services.common import exporters, launch, log_export, span_loss
from services.common import resource as resource_module
from services.common.config import OTLP_PROTOCOLS, ConfigError, env_bool, env_choice

# Re-exported: the doctor and the tests read the processor switch from here.
from services.common.resource import PROCESSOR_ATTRIBUTE as PROCESSOR_ATTRIBUTE
from services.common.resource import PROCESSOR_VAR as PROCESSOR_VAR
from services.common.resource import PROCESSORS as PROCESSORS
from services.common.resource import span_processor_kind

log = logging.getLogger(__name__)


@dataclass
class TelemetryState:
    """What :func:`init` set up in this process."""

    service_name: str
    provider: TracerProvider | None
    pid: int
    # Where the batch processors and exporters count lost spans and log records (span_loss).
    meters: MeterProvider | None = None
    # The OTLP log export (log_export); None when OTEL_LOGS_EXPORTER=none.
    logs: LoggerProvider | None = None


_state: TelemetryState | None = None


def sdk_disabled() -> bool:
    """True when ``OTEL_SDK_DISABLED`` turns the SDK off (API calls become no-ops)."""
    return env_bool("OTEL_SDK_DISABLED", False)


class HashOnceResource(Resource):
    """A :class:`Resource` that computes its hash once.

    The OTLP exporters group every span of a batch by resource, which hashes
    the resource once per span, and ``Resource.__hash__`` JSON-encodes all
    its attributes each time (about 4 µs here, a fifth of the encoding cost
    of a span). A resource never changes after it is made, so the hash can
    be kept; equality and the hash value itself are those of ``Resource``.
    """

    def __hash__(self) -> int:
        cached = self.__dict__.get("_tracelab_hash")
        if cached is None:
            cached = super().__hash__()
            self.__dict__["_tracelab_hash"] = cached
        return cached


def build_resource(service_name: str, service_version: str, environment: str) -> Resource:
    """The service's resource; ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES`` win."""
    attributes = resource_module.lab_resource_attributes(service_version, environment)
    resource = Resource.create(attributes)
    if not os.environ.get("OTEL_SERVICE_NAME"):
        resource = resource.merge(Resource({"service.name": service_name}))
    return HashOnceResource(resource.attributes, resource.schema_url)


PROTOCOLS = OTLP_PROTOCOLS


def exporter_protocol(environ: Mapping[str, str] | None = None) -> str:
    """The protocol the span exporter speaks (``OTEL_TRACES_EXPORTER``'s, else
    ``OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL``)."""
    return exporters.exporter_protocol(exporters.TRACES, environ)


def build_exporter() -> SpanExporter:
    """The span exporter ``OTEL_TRACES_EXPORTER`` names, through its entry point.

    Unset, that is ``tracelab`` for ``http/protobuf`` (the default protocol):
    :class:`~services.common.otlp_encoding.FastOTLPSpanExporter`, the stock
    OTLP/HTTP exporter with a request body written directly in protobuf wire
    format; ``otlp`` (or ``otlp_proto_http``/``otlp_proto_grpc``) the stock
    exporter for ``OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL``
    (:mod:`services.common.exporters`). ``none`` is refused: spans are
    turned off with ``OTEL_SDK_DISABLED`` or a sampler.
    """
    exporter = exporters.build(exporters.TRACES)
    if exporter is None:
        raise ValueError("OTEL_TRACES_EXPORTER=none: turn tracing off with OTEL_SDK_DISABLED=true")
    return exporter


class NoPropagation(TextMapPropagator):
    """``OTEL_PROPAGATORS=none``: nothing injected, nothing extracted.

    The SDK's own ``none`` is an empty composite whose ``extract`` returns the
    context it was given, ``None`` when given none; the instrumentations then
    attach ``None`` as the current context and every request fails. This one
    returns an empty context instead.
    """

    def extract(self, carrier: Any, context: Context | None = None, getter: Any = None) -> Context:
        """The given context, or an empty one: nothing read from ``carrier``."""
        return context if context is not None else Context()

    def inject(self, carrier: Any, context: Context | None = None, setter: Any = None) -> None:
        """Nothing written."""

    @property
    def fields(self) -> set[str]:
        """No header."""
        return set()


def set_propagators() -> None:
    """W3C tracecontext + baggage, unless ``OTEL_PROPAGATORS`` chose otherwise."""
    if os.environ.get("OTEL_PROPAGATORS", "").strip().lower() == "none":
        propagate.set_global_textmap(NoPropagation())
    elif not os.environ.get("OTEL_PROPAGATORS"):
        propagate.set_global_textmap(
            CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
        )


# The standard variable (opentelemetry-instrument reads it too): a comma-separated
# list of instrumentation entry-point names (flask, requests, aiohttp-client,
# aiohttp-server, psycopg) the process must not instrument.
DISABLED_INSTRUMENTATIONS_VAR = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"


def instrumentation_enabled(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """False when ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` names instrumentation ``name``."""
    env = os.environ if environ is None else environ
    disabled = {item.strip() for item in env.get(DISABLED_INSTRUMENTATIONS_VAR, "").split(",")}
    return name not in disabled


def instrument_libraries() -> None:
    """Instrument requests, aiohttp (client and server) and psycopg; idempotent.

    An instrumentation named in ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` is left out.
    """
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    # The aiohttp server instrumentor patches web.Application so every app
    # built afterwards gets the tracing middleware first in its chain.
    for name, instrumentor in (
        ("requests", RequestsInstrumentor()),
        ("aiohttp-client", AioHttpClientInstrumentor()),
        ("aiohttp-server", AioHttpServerInstrumentor()),
    ):
        if instrumentation_enabled(name) and not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
    psycopg = PsycopgInstrumentor()
    if instrumentation_enabled("psycopg") and not psycopg.is_instrumented_by_opentelemetry:
        # The commenter would append trace ids to SQL text, defeating statement caches.
        psycopg.instrument(enable_commenter=False, capture_parameters=False)


# The export settings for a collector outage; the standard variables, set in
# the environment, win.
EXPORT_DEFAULTS = launch.EXPORT_DEFAULTS


def _set_instrumentation_defaults() -> None:
    for name, value in launch.instrumentation_defaults().items():
        os.environ.setdefault(name, value)


# Instrumentation modules read these once, when first used; set them on import
# of this module, which every service imports before any instrumentation.
_set_instrumentation_defaults()


def build_provider(
    service_name: str,
    service_version: str = "0.0.0",
    environment: str = "local",
    *,
    span_processor: SpanProcessor | None = None,
    sampler: Sampler | None = None,
    meter_provider: MeterProvider | None = None,
) -> TracerProvider:
    """The tracer provider :func:`init` installs, without installing it.

    ``sampler=None`` makes the SDK read ``OTEL_TRACES_SAMPLER``/``_ARG``;
    ``span_processor=None`` means :func:`build_batch_processor` (or, with
    ``TRACELAB_SPAN_PROCESSOR=simple``, :func:`build_simple_processor`),
    counting its lost spans into ``meter_provider`` when one is given. The per-span
    microbenchmark builds its providers here, so it measures exactly what
    the services run.
    """
    resource = build_resource(service_name, service_version, environment)
    if sampler is None:
        # Samplers provided through entry points (services.common.sampling).
        from services.common.sampling import sampler_from_entry_point

        sampler = sampler_from_entry_point()
    provider = TracerProvider(resource=resource, sampler=sampler)
    if span_processor is None and span_sink() == "none":
        return provider
    if span_processor is None:
        build = build_simple_processor if span_processor_kind() == "simple" else None
        span_processor = (build or build_batch_processor)(meter_provider)
    provider.add_span_processor(span_processor)
    return provider


def build_simple_processor(meter_provider: MeterProvider | None) -> SimpleSpanProcessor:
    """The SDK's simple span processor: every span exported as it ends, failures counted."""
    exporter = build_exporter()
    if meter_provider is not None:
        exporter = span_loss.CountingExporter(exporter, meter_provider, span_loss.SPANS)
    return SimpleSpanProcessor(exporter)


# Where finished spans go, for measuring the export path piece by piece
# (tracelab bench-exact's ablations): ``export`` (the default: encode and POST),
# ``encode`` (encode, send nothing), ``drop`` (the batch processor hands the
# batches to an exporter that drops them), ``none`` (no span processor at all).
SPAN_SINK_VAR = "TRACELAB_SPAN_SINK"
SPAN_SINKS = ("export", "encode", "drop", "none")


def span_sink(environ: Mapping[str, str] | None = None) -> str:
    """``TRACELAB_SPAN_SINK`` (default ``export``)."""
    return env_choice(SPAN_SINK_VAR, SPAN_SINKS, environ)


class SinkExporter(SpanExporter):
    """Takes every batch and sends nothing; with ``encode`` it encodes the batch first."""

    def __init__(self, encode: Callable[[Sequence[ReadableSpan]], bytes] | None = None) -> None:
        self.encode = encode

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Encode (when asked to) and drop ``spans``."""
        if self.encode is not None:
            self.encode(spans)
        return SpanExportResult.SUCCESS


def sink_exporter() -> SpanExporter:
    """The exporter ``TRACELAB_SPAN_SINK`` asks for (``build_exporter``'s for ``export``)."""
    sink = span_sink()
    if sink == "encode":
        from services.common.otlp_encoding import encode_spans

        return SinkExporter(encode_spans)
    if sink == "drop":
        return SinkExporter()
    return build_exporter()


def build_batch_processor(
    meter_provider: MeterProvider | None,
    exporter_factory: Callable[[], SpanExporter] = sink_exporter,
) -> BatchSpanProcessor:
    """The OTLP batch span processor (``OTEL_BSP_*``) over ``exporter_factory``'s exporter.

    With a ``meter_provider``, the processor counts there the spans it drops
    on a full queue, and the exporter its failed exports
    (:mod:`services.common.span_loss`).
    """
    return span_loss.counted_processor(
        BatchSpanProcessor, exporter_factory(), span_loss.SPANS, meter_provider
    )


def init(
    service_name: str,
    *,
    service_version: str = "0.0.0",
    environment: str = "local",
    span_processor: SpanProcessor | None = None,
    log_processor: LogRecordProcessor | None = None,
) -> TelemetryState:
    """Set the tracer provider, resource, propagators, sampler, exporter and log export.

    ``span_processor`` replaces the OTLP batch span processor and
    ``log_processor`` the OTLP batch log processor (tests pass simple
    processors over in-memory exporters). Log records go to the logger
    provider through a handler added to the root logger, beside the JSON
    one ``logs.configure_logging`` set (:mod:`services.common.log_export`).
    Calling ``init`` again in the same process returns the first state;
    after a fork the child gets its own providers, so no exporter thread is
    shared between workers.
    """
    global _state
    if _state is not None and _state.pid == os.getpid():
        return _state
    set_propagators()
    if launch.zero_code():
        _state = _adopt_zero_code(service_name, log_processor)
        _install_flush_signal()
        return _state
    provider: TracerProvider | None = None
    meters: MeterProvider | None = None
    logs: LoggerProvider | None = None
    if sdk_disabled():
        log.info("OTEL_SDK_DISABLED is true: tracing is off for %s", service_name)
    else:
        resource = build_resource(service_name, service_version, environment)
        # Only the processors built here count their losses (tests pass their own).
        if span_processor is None or (log_processor is None and log_export.enabled()):
            meters = span_loss.build_meter_provider(resource)
        provider = build_provider(
            service_name,
            service_version,
            environment,
            span_processor=span_processor,
            meter_provider=meters,
        )
        trace.set_tracer_provider(provider)
        logs = log_export.build_provider(resource, log_processor, meters)
        if logs is not None:
            set_logger_provider(logs)
            log_export.attach(logs)
    instrument_libraries()
    _state = TelemetryState(
        service_name=service_name, provider=provider, pid=os.getpid(), meters=meters, logs=logs
    )
    _install_flush_signal()
    return _state


def _adopt_zero_code(service_name: str, log_processor: LogRecordProcessor | None) -> TelemetryState:
    """The providers ``opentelemetry-instrument`` set up, plus the lab's log handler."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        raise ConfigError(
            f"{launch.MODE_VAR}={launch.ZERO_CODE} but {service_name} has no SDK tracer "
            f"provider: it was not started under {launch.INSTRUMENT} (start it with `python -m "
            f"services.common.launch {service_name}`) or its configurator failed (see above)"
        )
    logs: LoggerProvider | None = None
    global_logs = get_logger_provider()
    if isinstance(global_logs, LoggerProvider) and (log_processor or log_export.enabled()):
        logs = global_logs
        if log_processor is not None:
            logs.add_log_record_processor(log_processor)
        log_export.attach(logs)
    return TelemetryState(service_name=service_name, provider=provider, pid=os.getpid(), logs=logs)


# A signal name (e.g. ``SIGUSR2``): on it the process flushes its span and log
# exporters and logs FLUSHED_MESSAGE. tracelab bench-exact ends each measured
# window so, to count the export of every span of the window inside it.
FLUSH_SIGNAL_VAR = "TRACELAB_FLUSH_SIGNAL"
FLUSHED_MESSAGE = "telemetry flushed on signal"


def _install_flush_signal() -> None:
    name = os.environ.get(FLUSH_SIGNAL_VAR, "").strip()
    if not name:
        return

    def flush() -> None:
        if _state is not None and _state.provider is not None:
            _state.provider.force_flush()
        if _state is not None and _state.logs is not None:
            _state.logs.force_flush()
        log.info(FLUSHED_MESSAGE)

    # The handler runs in the main thread, between two bytecodes of whatever it
    # was doing: the flush waits for the exporter, so it runs in its own thread.
    signal.signal(
        signal.Signals[name], lambda *_: threading.Thread(target=flush, daemon=True).start()
    )


def shutdown() -> None:
    """Flush and stop the exporters of this process (call on worker exit).

    Logs are flushed after spans (the span flush may log), and the loss
    counters stop last, so the final loss lines and metrics include what the
    flushes themselves could not send.
    """
    if _state is None or _state.pid != os.getpid():
        return
    if _state.provider is not None:
        _state.provider.shutdown()
    if _state.logs is not None:
        _state.logs.shutdown()
    if _state.meters is not None:
        _state.meters.shutdown()


def tracer(name: str) -> trace.Tracer:
    """A tracer for manual business-step spans of module ``name``."""
    return trace.get_tracer(name)


def traceresponse() -> str | None:
    """The W3C ``traceresponse`` value for the active span, or None without one."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
