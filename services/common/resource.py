"""The resource attributes the lab adds to every service's, in both instrumentation modes.

Kept apart from :mod:`services.common.telemetry`: the SDK's configurator loads
:class:`TracelabResourceDetector` (zero-code mode) while it is still importing
the SDK, so this module imports no more of it than the resource API.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry.sdk.resources import Resource, ResourceDetector

from services.common.config import ServiceSettings, env_choice, env_str
from services.common.sampling import PROBABILITY_ATTRIBUTE, configured_probability

# batch (the default) or simple: the SDK's SimpleSpanProcessor exports each
# span as it ends, on the request's thread (for the lab's doctor exercise).
PROCESSOR_VAR = "TRACELAB_SPAN_PROCESSOR"
PROCESSORS = ("batch", "simple")
PROCESSOR_ATTRIBUTE = "tracelab.span_processor"


def span_processor_kind(environ: Mapping[str, str] | None = None) -> str:
    """``TRACELAB_SPAN_PROCESSOR`` (``batch`` or ``simple``; default ``batch``)."""
    return env_choice(PROCESSOR_VAR, PROCESSORS, environ)


def lab_resource_attributes(service_version: str, environment: str) -> dict[str, object]:
    """The resource attributes the lab adds to every service's (beside ``service.name``)."""
    attributes: dict[str, object] = {
        "service.version": service_version,
        # deployment.environment is what DESIGN.md names; semconv 1.27+ renamed it
        # deployment.environment.name, and backends read one or the other.
        "deployment.environment": environment,
        "deployment.environment.name": environment,
    }
    # What the service samples with: a reader of span counts (the console's
    # service map) weights each sampled span by it where no tracestate says.
    probability = configured_probability(
        os.environ.get("OTEL_TRACES_SAMPLER"), os.environ.get("OTEL_TRACES_SAMPLER_ARG")
    )
    if probability is not None:
        attributes[PROBABILITY_ATTRIBUTE] = probability
    # Which span processor exports: `tracelab doctor` reads it from the spans.
    attributes[PROCESSOR_ATTRIBUTE] = span_processor_kind()
    return attributes


class TracelabResourceDetector(ResourceDetector):
    """:func:`lab_resource_attributes` for the SDK's configurator (zero-code mode).

    The ``tracelab`` entry point of ``opentelemetry_resource_detector``, named in
    ``OTEL_EXPERIMENTAL_RESOURCE_DETECTORS``; it reads ``SERVICE_VERSION`` and
    ``DEPLOYMENT_ENVIRONMENT`` like :class:`~services.common.config.ServiceSettings`.
    """

    def detect(self) -> Resource:
        """The lab's attributes; ``OTEL_RESOURCE_ATTRIBUTES`` (detected after) wins."""
        defaults = ServiceSettings(name="", port=1)
        return Resource(
            lab_resource_attributes(
                env_str("SERVICE_VERSION", defaults.version),
                env_str("DEPLOYMENT_ENVIRONMENT", defaults.environment),
            )
        )
