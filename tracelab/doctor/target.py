"""Where doctor looks: the collector endpoint, the services, the backend and metrics URLs.

Two ways to name them. :func:`local_stack` reads the running local stack
(``.run/state.json``, or ``TRACELAB_RUN_DIR``'s): every port from the
stack's config, each service's environment from its process (what it
really runs with, ``extra_env`` and shell overrides included) and its log.
:func:`given` takes an endpoint, a protocol and service names from the
command line, for any OTLP setup; what doctor cannot read there (a
service's environment) it reads from the service's spans instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from services.common import telemetry
from services.common.sampling import configured_probability
from tracelab.stack import config as cfg
from tracelab.stack.paths import repo_root
from tracelab.stack.paths import run_dir as stack_run_dir
from tracelab.stack.state import Recorded, read_state

# The OTLP ports of the specification (and the SDKs' default endpoints).
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
SDK_DEFAULT_ENDPOINTS = {"grpc": "http://localhost:4317", "http/protobuf": "http://localhost:4318"}
DEFAULT_LOOKBACK_S = 600.0


class DoctorError(RuntimeError):
    """Doctor cannot start: no stack runs and no endpoint was given, or an option is wrong."""


@dataclass(frozen=True)
class Endpoint:
    """An OTLP endpoint as an exporter is configured: protocol, URL, host and port."""

    protocol: str
    url: str

    @property
    def host(self) -> str:
        """The host the exporter connects to."""
        return urlsplit(self._with_scheme).hostname or "localhost"

    @property
    def port(self) -> int:
        """The port the exporter connects to (the scheme's default when none is given)."""
        parts = urlsplit(self._with_scheme)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def _with_scheme(self) -> str:
        # gRPC endpoints are often written host:port, without a scheme.
        return self.url if "://" in self.url else f"http://{self.url}"

    @property
    def http_traces_url(self) -> str:
        """Where an OTLP/HTTP exporter posts spans: the base URL plus ``/v1/traces``."""
        base = self._with_scheme.rstrip("/")
        return base if base.endswith("/v1/traces") else base + "/v1/traces"

    def label(self) -> str:
        """``http/protobuf -> http://127.0.0.1:4318``."""
        return f"{self.protocol} -> {self.url}"


def endpoint_from_env(environ: Mapping[str, str]) -> Endpoint:
    """The span exporter's endpoint as the SDK reads it from ``OTEL_EXPORTER_OTLP_*``."""
    protocol = telemetry.exporter_protocol(environ)
    url = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or SDK_DEFAULT_ENDPOINTS.get(protocol, SDK_DEFAULT_ENDPOINTS["http/protobuf"])
    )
    return Endpoint(protocol, url)


@dataclass(frozen=True)
class ServiceConfig:
    """One service doctor checks; ``env`` is its process's environment when it can be read."""

    name: str
    env: Mapping[str, str] | None = None
    log: Path | None = None

    def endpoint(self) -> Endpoint | None:
        """Where its span exporter sends, when its environment is known."""
        return None if self.env is None else endpoint_from_env(self.env)

    def sampling_probability(self) -> float | None:
        """The share of new traces its sampler keeps (None: not a fixed share, or unknown)."""
        if self.env is None:
            return None
        return configured_probability(
            self.env.get("OTEL_TRACES_SAMPLER"), self.env.get("OTEL_TRACES_SAMPLER_ARG")
        )

    def sampler(self) -> str | None:
        """``OTEL_TRACES_SAMPLER`` and its argument as configured, when known."""
        if self.env is None:
            return None
        name = self.env.get("OTEL_TRACES_SAMPLER") or "parentbased_always_on (default)"
        argument = self.env.get("OTEL_TRACES_SAMPLER_ARG")
        return f"{name} {argument}" if argument else name

    def span_processor(self) -> str | None:
        """``batch`` or ``simple`` from ``TRACELAB_SPAN_PROCESSOR``, when known."""
        if self.env is None:
            return None
        try:
            return telemetry.span_processor_kind(self.env)
        except ValueError:
            return self.env.get(telemetry.PROCESSOR_VAR)

    def batch_settings(self) -> dict[str, str]:
        """The ``OTEL_BSP_*`` settings in effect (the services' defaults, then the env)."""
        if self.env is None:
            return {}
        merged = {**telemetry.EXPORT_DEFAULTS, **self.env}
        return {name: merged[name] for name in sorted(merged) if name.startswith("OTEL_BSP_")}


@dataclass(frozen=True)
class Target:
    """Everything doctor checks, and where to read it."""

    label: str
    services: tuple[ServiceConfig, ...]
    # A user-given endpoint wins over the services' own (which may be unknown).
    endpoint: Endpoint | None = None
    # The collector's two OTLP ports, to say which protocol answers where.
    grpc_port: int = OTLP_GRPC_PORT
    http_port: int = OTLP_HTTP_PORT
    query_url: str | None = None
    collector_metrics_url: str | None = None
    service_metrics_url: str | None = None
    lookback_s: float = DEFAULT_LOOKBACK_S
    extra: dict[str, str] = field(default_factory=dict)

    def endpoints(self) -> dict[Endpoint, list[str]]:
        """Each endpoint in use and the services that send to it."""
        if self.endpoint is not None:
            return {self.endpoint: [s.name for s in self.services] or ["(given)"]}
        used: dict[Endpoint, list[str]] = {}
        for service in self.services:
            endpoint = service.endpoint()
            if endpoint is not None:
                used.setdefault(endpoint, []).append(service.name)
        return used

    def sibling_port(self, port: int) -> int | None:
        """The collector's other OTLP port (gRPC for the HTTP one and back)."""
        return {self.grpc_port: self.http_port, self.http_port: self.grpc_port}.get(port)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary of what was checked."""
        return {
            "label": self.label,
            "services": [s.name for s in self.services],
            "endpoints": {e.label(): names for e, names in self.endpoints().items()},
            "query_url": self.query_url,
            "collector_metrics_url": self.collector_metrics_url,
            "service_metrics_url": self.service_metrics_url,
            "lookback_s": self.lookback_s,
        }


def _process_env(recorded: Recorded) -> Mapping[str, str] | None:
    ref = recorded.ref
    process = ref.process() if ref is not None else None
    if process is None:
        return None
    try:
        return dict(process.environ())
    except Exception:  # psutil: gone, or not ours to read
        return None


def local_stack(
    environ: Mapping[str, str],
    only: Sequence[str] = (),
    lookback_s: float = DEFAULT_LOOKBACK_S,
    root: Path | None = None,
) -> Target:
    """The running local stack of this checkout (``TRACELAB_RUN_DIR`` relocates it)."""
    checkout = root or repo_root()
    run_dir = stack_run_dir(checkout, environ)
    state = read_state(run_dir)
    if state is None or not state.ports:
        raise DoctorError(
            f"no local stack found in {run_dir} (start it with `make up`), "
            "or name one with --endpoint/--protocol/--service"
        )
    ports = state.ports
    unknown = sorted(set(only) - set(cfg.SERVICES))
    if unknown:
        raise DoctorError(f"unknown service {', '.join(unknown)}; the stack runs {cfg.SERVICES}")
    services = []
    for name in only or cfg.SERVICES:
        recorded = state.components.get(name)
        if recorded is None:
            continue
        log = Path(recorded.log) if recorded.log else None
        services.append(ServiceConfig(name, _process_env(recorded), log))
    return Target(
        label=f"local stack in {run_dir}",
        services=tuple(services),
        grpc_port=ports["collector_otlp_grpc"],
        http_port=ports["collector_otlp_http"],
        query_url=cfg.http_url(ports["jaeger_query"]),
        collector_metrics_url=cfg.http_url(ports["collector_metrics"], "/metrics"),
        service_metrics_url=cfg.http_url(ports["collector_spanmetrics"], "/metrics"),
        lookback_s=lookback_s,
    )


def given(
    endpoint: str,
    protocol: str,
    services: Sequence[str],
    *,
    query_url: str | None = None,
    collector_metrics_url: str | None = None,
    service_metrics_url: str | None = None,
    logs: Mapping[str, Path] | None = None,
    lookback_s: float = DEFAULT_LOOKBACK_S,
) -> Target:
    """Any OTLP setup: an endpoint and protocol, the services, and optional URLs and logs."""
    if protocol not in telemetry.PROTOCOLS:
        raise DoctorError(f"--protocol {protocol!r} is not one of {', '.join(telemetry.PROTOCOLS)}")
    logs = logs or {}
    unknown_logs = sorted(set(logs) - set(services))
    if unknown_logs:
        raise DoctorError(f"--log names service(s) not given with --service: {unknown_logs}")
    return Target(
        label=f"{protocol} endpoint {endpoint}",
        services=tuple(ServiceConfig(name, None, logs.get(name)) for name in services),
        endpoint=Endpoint(protocol, endpoint),
        query_url=query_url,
        collector_metrics_url=collector_metrics_url,
        service_metrics_url=service_metrics_url,
        lookback_s=lookback_s,
    )
