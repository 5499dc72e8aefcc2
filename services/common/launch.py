"""How a service process is started: the one launch path of the stack, Compose and Kubernetes.

``TRACELAB_INSTRUMENTATION`` chooses how a service is instrumented:

- ``programmatic`` (the default): ``python -m services.<name>``;
  :func:`services.common.telemetry.init` builds the providers and
  instruments the libraries in code.
- ``zero-code``: ``opentelemetry-instrument python -m services.<name>``. The
  ``opentelemetry-distro``'s configurator builds the SDK from the standard
  ``OTEL_*`` variables and every installed instrumentation library is
  instrumented before the service's code runs; ``telemetry.init`` then only
  adds what the lab does beyond that (see its docstring).

:func:`command` gives the argv and environment of a service for either mode;
the local stack runner spawns it, and the container image runs ``python -m
services.common.launch SERVICE``, which execs it (Compose and Kubernetes pass
``TRACELAB_INSTRUMENTATION`` through). The instrumentation settings that must
be in the environment *before* the interpreter starts (the auto-instrumentation
reads them when it instruments, before any service code) are
:func:`instrumentation_defaults` and :func:`zero_code_defaults`: the
variables the environment already has win. This module imports nothing heavy:
it runs in the launcher before the service.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from services.common import exclusions, exporters
from services.common.config import ConfigError

MODE_VAR = "TRACELAB_INSTRUMENTATION"
PROGRAMMATIC = "programmatic"
ZERO_CODE = "zero-code"
MODES = (PROGRAMMATIC, ZERO_CODE)
SERVICES = ("frontend", "gateway", "auth", "user", "db")
INSTRUMENT = "opentelemetry-instrument"

# The export settings for a collector outage, chosen in docs/telemetry.md
# (queue size for the lab's capacity, an export timeout that outlasts a
# paused collector, for log records as for spans).
EXPORT_DEFAULTS = {
    "OTEL_BSP_MAX_QUEUE_SIZE": "16384",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "512",
    "OTEL_BSP_SCHEDULE_DELAY": "5000",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "90",
    "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "90",
}


def mode(environ: Mapping[str, str] | None = None) -> str:
    """``TRACELAB_INSTRUMENTATION`` (default ``programmatic``); a bad value raises ConfigError."""
    env = os.environ if environ is None else environ
    value = env.get(MODE_VAR, "").strip().lower() or PROGRAMMATIC
    if value not in MODES:
        raise ConfigError(f"{MODE_VAR}={env.get(MODE_VAR)!r} is not one of {', '.join(MODES)}")
    return value


def zero_code(environ: Mapping[str, str] | None = None) -> bool:
    """True when the services run under ``opentelemetry-instrument``."""
    return mode(environ) == ZERO_CODE


def instrumentation_defaults() -> dict[str, str]:
    """What every service's instrumentations read from the environment, in both modes."""
    return {
        # The stable HTTP semantic conventions (http.request.method, ...).
        "OTEL_SEMCONV_STABILITY_OPT_IN": "http",
        # Health probes and the admin API make no spans (services.common.exclusions);
        # the aiohttp server instrumentation reads its list when it instruments.
        "OTEL_PYTHON_EXCLUDED_URLS": ",".join(exclusions.HEALTH_PATHS),
        "OTEL_PYTHON_FLASK_EXCLUDED_URLS": exclusions.for_urls(exclusions.UNTRACED),
        "OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS": exclusions.for_paths(exclusions.UNTRACED),
        **EXPORT_DEFAULTS,
    }


def zero_code_defaults(service: str) -> dict[str, str]:
    """The standard variables that make the auto-instrumentation match the programmatic setup."""
    return {
        # telemetry.build_resource names the service itself; the configurator reads this.
        "OTEL_SERVICE_NAME": service,
        # The lab's resource attributes (service.version, deployment.environment,
        # the sampling probability): resource.TracelabResourceDetector.
        "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "tracelab",
        # The distro's default is grpc; the lab's is OTLP/HTTP.
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        # telemetry.init adds the lab's filtered log handler (log_export); the
        # logging instrumentation's own one would export every record twice.
        "OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION": "false",
        # The programmatic services count lost spans through the SDK's own
        # processor metrics; here they go to the global meter provider, which
        # the loss log reader (span_loss.LossLogReader) reads.
        "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED": "true",
        # Only the loss reader: the programmatic services export no metrics either.
        "OTEL_METRICS_EXPORTER": "tracelab_span_loss",
    }


def _instrument_binary() -> str:
    beside = Path(sys.executable).with_name(INSTRUMENT)
    if beside.is_file():
        return str(beside)
    found = shutil.which(INSTRUMENT)
    if found is None:
        raise ConfigError(f"{MODE_VAR}={ZERO_CODE} needs {INSTRUMENT} (opentelemetry-distro)")
    return found


def command(service: str, environ: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that start ``service`` in the mode ``environ`` chooses.

    The environment is ``environ`` with the defaults added where unset.
    """
    if service not in SERVICES:
        raise ConfigError(f"unknown service {service!r}: one of {', '.join(SERVICES)}")
    chosen = mode(environ)
    env = {**instrumentation_defaults(), **environ}
    argv = [sys.executable, "-m", f"services.{service}"]
    if chosen == ZERO_CODE:
        env = {**zero_code_defaults(service), **env}
        # The configurator reads the exporter names itself: give it the ones the
        # programmatic setup resolves (the direct encoder by default), so the two
        # modes differ in how they instrument only.
        for signal in (exporters.TRACES, exporters.LOGS):
            env.setdefault(signal.variable, exporters.exporter_name(signal, env))
        argv = [_instrument_binary(), *argv]
    return argv, env


def main(argv: list[str] | None = None) -> None:
    """``python -m services.common.launch SERVICE``: exec the service (containers' command)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit(f"usage: python -m services.common.launch {{{','.join(SERVICES)}}}")
    try:
        program, env = command(args[0], os.environ)
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from exc
    os.execve(program[0], program, env)


if __name__ == "__main__":
    main()
