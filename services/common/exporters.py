"""The span and log exporters, chosen by entry point name as the SDK's configurator does.

``OTEL_TRACES_EXPORTER`` and ``OTEL_LOGS_EXPORTER`` name an exporter
registered in the entry point group ``opentelemetry_traces_exporter``
(``opentelemetry_logs_exporter``), so the same names work when the services
are launched by ``opentelemetry-instrument``:

- ``tracelab`` (this project's pyproject.toml): the OTLP/HTTP exporter with
  the direct encoder (services.common.otlp_encoding, otlp_log_encoding);
- ``otlp_proto_http``, ``otlp_proto_grpc``: the SDK's stock OTLP exporters;
- ``otlp``: one of those two, by ``OTEL_EXPORTER_OTLP_(<SIGNAL>_)PROTOCOL``;
- ``none``: no export; any other registered name (``console``) works too.

Unset, the name is :data:`DEFAULT_EXPORTER` when the protocol is
``http/protobuf`` (the lab's default protocol) and ``otlp`` otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from services.common.config import OTLP_PROTOCOLS, ConfigError, otlp_protocol

# The direct encoder's exporters (pyproject.toml's entry points).
DIRECT_EXPORTER = "tracelab"
# Chosen from the callgrind count of instructions per span and per log
# record, direct against stock (docs/benchmark.md "The OTLP encoder").
DEFAULT_EXPORTER = DIRECT_EXPORTER
# The exporters the protocol variable chooses between, as in the SDK.
OTLP_BY_PROTOCOL = {"grpc": "otlp_proto_grpc", "http/protobuf": "otlp_proto_http"}
# What each OTLP exporter speaks, whatever the protocol variable says.
PROTOCOL_BY_EXPORTER = {
    **{name: protocol for protocol, name in OTLP_BY_PROTOCOL.items()},
    DIRECT_EXPORTER: "http/protobuf",
}


@dataclass(frozen=True)
class ExporterSignal:
    """A signal's exporter variable, entry point group and protocol variable suffix."""

    variable: str
    group: str
    protocol_signal: str


TRACES = ExporterSignal("OTEL_TRACES_EXPORTER", "opentelemetry_traces_exporter", "TRACES")
LOGS = ExporterSignal("OTEL_LOGS_EXPORTER", "opentelemetry_logs_exporter", "LOGS")


def exporter_name(signal: ExporterSignal, environ: Mapping[str, str] | None = None) -> str:
    """The entry point name the environment selects for ``signal``, or ``none``.

    ``otlp`` (and an unset variable with a protocol other than
    ``http/protobuf``) is resolved through the protocol; one exporter per
    signal (the lab counts its losses), so a list is refused.
    """
    env = os.environ if environ is None else environ
    raw = env.get(signal.variable, "").strip().lower()
    protocol = otlp_protocol(signal.protocol_signal, env).strip()
    if "," in raw:
        raise ConfigError(f"{signal.variable} names one exporter, got {raw!r}")
    name = raw or (DEFAULT_EXPORTER if protocol == "http/protobuf" else "otlp")
    if name == "otlp":
        if protocol not in OTLP_BY_PROTOCOL:
            raise ConfigError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL {protocol!r} is not one of "
                f"{', '.join(OTLP_PROTOCOLS)}"
            )
        name = OTLP_BY_PROTOCOL[protocol]
    elif name == DIRECT_EXPORTER and protocol != "http/protobuf":
        raise ConfigError(
            f"{signal.variable}={DIRECT_EXPORTER} exports over http/protobuf, but "
            f"OTEL_EXPORTER_OTLP_PROTOCOL is {protocol!r}: use otlp_proto_grpc for gRPC"
        )
    return name


def exporter_protocol(signal: ExporterSignal, environ: Mapping[str, str] | None = None) -> str:
    """The protocol ``signal``'s exporter speaks: the named OTLP exporter's own, else
    ``OTEL_EXPORTER_OTLP_(<SIGNAL>_)PROTOCOL`` (also when the names cannot be used)."""
    try:
        name = exporter_name(signal, environ)
    except ConfigError:
        name = ""
    return PROTOCOL_BY_EXPORTER.get(name) or otlp_protocol(signal.protocol_signal, environ)


def build(signal: ExporterSignal, environ: Mapping[str, str] | None = None) -> Any | None:
    """An instance of the exporter :func:`exporter_name` names (None for ``none``)."""
    name = exporter_name(signal, environ)
    if name == "none":
        return None
    found = list(entry_points(group=signal.group, name=name))
    if not found:
        known = sorted({ep.name for ep in entry_points(group=signal.group)} | {"otlp", "none"})
        raise ConfigError(f"{signal.variable} {name!r} is not one of {', '.join(known)}")
    return found[0].load()()
