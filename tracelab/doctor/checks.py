"""The checks: evidence in, a verdict with its evidence and fix out (no I/O here).

Each function judges what :mod:`tracelab.doctor.gather` read from the real
programs (probes, metrics pages, log lines, traces), so each is unit tested
on recorded pages and built traces. docs/doctor.md describes every check.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from services.common import span_loss, telemetry
from services.common.sampling import PROBABILITY_ATTRIBUTE
from tracelab.analysis.findings import AnalysisContext, broken_trace
from tracelab.bench import logscan, promtext
from tracelab.doctor.model import FAIL, PASS, SKIP, WARN, CheckResult
from tracelab.doctor.probe import Probe
from tracelab.doctor.target import Endpoint, ServiceConfig
from tracelab.shapes.model import Span, Trace

ENDPOINT = "collector endpoint"
SERVICE_LOSS = "spans lost in the services"
COLLECTOR = "collector refused/failed spans"
SAMPLING = "sampling"
PROCESSOR = "span processor"
PROPAGATION = "propagation"
CLOCK_SKEW = "clock skew"
CHECKS = (ENDPOINT, SERVICE_LOSS, COLLECTOR, SAMPLING, PROCESSOR, PROPAGATION, CLOCK_SKEW)

# Below this share of new traces kept, "my trace is missing" is the expected outcome.
DEFAULT_MIN_SAMPLING = 0.1
# A batch queue this small drops spans in any burst (the services' default is 16384).
SMALL_QUEUE = 2048
DEFAULT_SKEW_TOLERANCE_MS = 20.0
# Examples of broken traces or skewed spans quoted per problem.
EXAMPLES = 3


def other_protocol(protocol: str) -> str:
    return "grpc" if protocol != "grpc" else "http/protobuf"


@dataclass(frozen=True)
class EndpointProbes:
    """The probes of one configured endpoint: the configured protocol first."""

    endpoint: Endpoint
    services: Sequence[str]
    probes: Sequence[Probe]

    @property
    def configured(self) -> Probe:
        """The probe of the configured protocol at the configured port."""
        return self.probes[0]


def _diagnose(entry: EndpointProbes) -> tuple[str, str]:
    """The evidence line and the fix for an endpoint whose configured probe failed."""
    endpoint, configured = entry.endpoint, entry.configured
    answering = [p for p in entry.probes if p.answers]
    same_protocol = [p for p in answering if p.protocol == endpoint.protocol]
    other_here = [p for p in answering if p.port == endpoint.port]
    if other_here:
        where = same_protocol[0].port if same_protocol else None
        fix = (
            f"port {endpoint.port} speaks {other_here[0].protocol}: set "
            f"OTEL_EXPORTER_OTLP_PROTOCOL={other_here[0].protocol}"
            + (
                f", or point the endpoint at port {where} where {endpoint.protocol} answers"
                if where
                else ""
            )
        )
        return (
            f"{endpoint.protocol} is configured, but port {endpoint.port} "
            f"speaks {other_here[0].protocol}",
            fix,
        )
    if same_protocol:
        port = same_protocol[0].port
        return (
            f"{endpoint.protocol} does not answer at port {endpoint.port}, it answers at {port}",
            f"point OTEL_EXPORTER_OTLP_ENDPOINT at port {port}",
        )
    if configured.detail == "connection refused":
        return (
            f"nothing listens at {configured.where()}",
            "start the collector (make up), or fix the endpoint's host and port "
            "(from a container, 127.0.0.1 is the container itself)",
        )
    return (
        f"{configured.where()} accepts connections but answers no OTLP",
        "point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's OTLP receiver",
    )


def check_endpoints(entries: Sequence[EndpointProbes]) -> CheckResult:
    """Each endpoint in use answers its configured protocol; else which protocol answers where."""
    if not entries:
        return CheckResult(ENDPOINT, SKIP, "no exporter configuration could be read")
    evidence, fixes, failed = [], [], []
    for entry in entries:
        who = ", ".join(entry.services)
        evidence.append(f"{who}: {entry.endpoint.label()}")
        evidence.extend(
            f"  {p.protocol:<13} at {p.where()}: {'answers' if p.answers else 'no'} ({p.detail})"
            for p in entry.probes
        )
        if not entry.configured.answers:
            line, fix = _diagnose(entry)
            failed.append(f"{who}: {line}")
            fixes.append(f"{who}: {fix}")
    data = {
        "endpoints": [
            {
                "endpoint": entry.endpoint.url,
                "protocol": entry.endpoint.protocol,
                "services": list(entry.services),
                "probes": [p.to_dict() for p in entry.probes],
            }
            for entry in entries
        ]
    }
    if failed:
        return CheckResult(
            ENDPOINT, FAIL, "; ".join(failed), tuple(evidence), "; ".join(fixes), data
        )
    return CheckResult(
        ENDPOINT, PASS, "every exporter reaches the collector", tuple(evidence), data=data
    )


@dataclass(frozen=True)
class LogTrouble:
    """A service's exporter warnings and errors in its log, within the window."""

    lines: int = 0
    # Lines that say spans are gone: errors, span_loss's "spans lost in the last ..."
    # and the SDK's own drop and export-failure lines (tracelab.bench.logscan's markers).
    # The rest are retries that may still succeed ("Transient error ... retrying").
    loss_lines: int = 0
    last: tuple[str, ...] = ()


# Where a service's log speaks of its exporter: the SDK's and the exporters' loggers.
EXPORT_LOGGERS = ("opentelemetry.", span_loss.__name__)


def exporter_trouble(entries: Sequence[Mapping[str, object]]) -> LogTrouble:
    """Count WARNING+ lines of the SDK's, the exporters' and span_loss's loggers."""
    lines = loss = 0
    last: list[str] = []
    for entry in entries:
        level = str(entry.get("level", ""))
        logger = str(entry.get("logger", ""))
        if level not in ("WARNING", "ERROR", "CRITICAL"):
            continue
        if not (logger.startswith(EXPORT_LOGGERS[0]) or logger == EXPORT_LOGGERS[1]):
            continue
        message = str(entry.get("message", ""))
        lines += 1
        raw = message.encode()
        loss += (
            level != "WARNING"
            or message.startswith(span_loss.LOG_PREFIX)
            or logscan.DROP_MARKER in raw
            or any(marker in raw for marker in logscan.EXPORT_FAILURE_MARKERS)
        )
        last.append(f"{entry.get('time', '?')} {level} {message[:160]}")
    return LogTrouble(lines, loss, tuple(last[-EXAMPLES:]))


def check_service_loss(
    services: Sequence[str],
    samples: Sequence[promtext.Sample] | None,
    logs: Mapping[str, LogTrouble | None],
) -> CheckResult:
    """Spans a service dropped (full queue) or lost in failed exports, by metrics and logs."""
    if samples is None and all(trouble is None for trouble in logs.values()):
        return CheckResult(
            SERVICE_LOSS, SKIP, "neither the services' metrics nor their logs could be read"
        )
    evidence, losing, retrying = [], [], []
    data: dict[str, object] = {}
    for name in services:
        counts = promtext.service_loss(samples, name) if samples is not None else None
        trouble = logs.get(name)
        data[name] = {
            "metrics": counts,
            "log_lines": trouble.lines if trouble else None,
            "log_loss_lines": trouble.loss_lines if trouble else None,
            "log_examples": list(trouble.last) if trouble else [],
        }
        parts = []
        if counts is not None:
            parts.append(
                f"{counts['dropped_queue_full']} dropped (queue full), "
                f"{counts['export_failed_spans']} in {counts['failed_exports']} failed exports, "
                f"{counts['exported_spans']} exported"
            )
        if trouble is not None:
            parts.append(f"{trouble.lines} exporter warning(s) in its log")
        evidence.append(f"{name}: " + "; ".join(parts))
        evidence.extend(f"  {line}" for line in (trouble.last if trouble else ()))
        lost = counts is not None and (counts["dropped_queue_full"] + counts["export_failed_spans"])
        if lost or (trouble is not None and trouble.loss_lines):
            losing.append(name)
        elif trouble is not None and trouble.lines:
            retrying.append(name)
    if samples is None:
        evidence.append("(the services' metrics endpoint did not answer: logs only)")
    fix = (
        "a full queue: raise OTEL_BSP_MAX_QUEUE_SIZE or lower the sampling rate; failed "
        "exports: check the endpoint and protocol (first check) and the collector's health"
    )
    if losing:
        summary = f"{', '.join(losing)} lost spans"
        return CheckResult(SERVICE_LOSS, FAIL, summary, tuple(evidence), fix, data)
    if retrying:
        summary = f"{', '.join(retrying)} retried exports (nothing lost yet)"
        return CheckResult(SERVICE_LOSS, WARN, summary, tuple(evidence), fix, data)
    return CheckResult(SERVICE_LOSS, PASS, "no service lost spans", tuple(evidence), data=data)


COLLECTOR_COUNTERS = {
    "refused": promtext.REFUSED,
    "receive failed": promtext.RECEIVER_FAILED,
    "send failed": promtext.SEND_FAILED,
    "enqueue failed": promtext.ENQUEUE_FAILED,
}


def _by(samples: Sequence[promtext.Sample], name: str, label: str) -> dict[str, float]:
    sums: dict[str, float] = defaultdict(float)
    for sample_name, labels, value in samples:
        if sample_name in (name, f"{name}_total") and value:
            sums[labels.get(label, "?")] += value
    return dict(sums)


def check_collector(samples: Sequence[promtext.Sample] | None) -> CheckResult:
    """The collector's own counters: spans refused, failed to receive, send or enqueue."""
    if samples is None:
        return CheckResult(
            COLLECTOR,
            SKIP,
            "the collector's own metrics endpoint did not answer",
            fix="give --collector-metrics URL (the collector's :8888/metrics)",
        )
    counts = {
        label: int(promtext.total(samples, name)) for label, name in COLLECTOR_COUNTERS.items()
    }
    accepted = int(promtext.total(samples, promtext.ACCEPTED))
    queued = int(promtext.total(samples, "otelcol_exporter_queue_size"))
    evidence = [
        f"accepted {accepted}, "
        + ", ".join(f"{label} {value}" for label, value in counts.items())
        + f", in the sending queues now {queued}"
    ]
    for label, name in COLLECTOR_COUNTERS.items():
        for component, value in _by(
            samples, name, "exporter" if "send" in label or "enqueue" in label else "receiver"
        ).items():
            evidence.append(f"  {label}: {int(value)} at {component}")
    data = {"accepted": accepted, "queue_size": queued, **counts}
    if not any(counts.values()):
        return CheckResult(
            COLLECTOR, PASS, "the collector lost no span", tuple(evidence), data=data
        )
    fixes = []
    if counts["refused"]:
        fixes.append(
            "refused: the memory_limiter refuses data near its limit "
            "(raise OTELCOL_MEMORY_LIMIT_MIB, or send less)"
        )
    if counts["receive failed"]:
        fixes.append("receive failed: malformed or oversized requests from an exporter")
    if counts["send failed"] or counts["enqueue failed"]:
        fixes.append(
            "send/enqueue failed: a backend is down or slow (check Jaeger/Tempo), or the "
            "sending queue is full (OTELCOL_QUEUE_SPANS) or its retries gave up "
            "(OTELCOL_RETRY_HORIZON)"
        )
    lost = sum(counts.values())
    return CheckResult(
        COLLECTOR,
        FAIL,
        f"the collector lost {lost} span(s) since it started",
        tuple(evidence),
        "; ".join(fixes),
        data,
    )


def _resource_of(traces: Sequence[Trace], service: str) -> Mapping[str, object] | None:
    for trace in traces:
        for span in trace:
            if span.service == service and span.resource:
                return span.resource
    return None


def _share(probability: float) -> str:
    return f"{probability:.0%}" if probability >= 0.01 or probability == 0 else f"{probability:.2%}"


def check_sampling(
    services: Sequence[ServiceConfig],
    traces: Sequence[Trace],
    min_share: float = DEFAULT_MIN_SAMPLING,
) -> CheckResult:
    """What share of new traces each service's sampler keeps (from its env, else its spans)."""
    evidence, low, off, unknown = [], [], [], []
    data: dict[str, object] = {}
    for service in services:
        probability = service.sampling_probability()
        source = f"{service.sampler()}" if service.env is not None else None
        if service.env is None:
            resource = _resource_of(traces, service.name) or {}
            raw = resource.get(PROBABILITY_ATTRIBUTE)
            probability = float(raw) if isinstance(raw, int | float | str) and raw != "" else None
            source = f"resource {PROBABILITY_ATTRIBUTE}={raw}" if raw is not None else None
        data[service.name] = {"sampler": source, "probability": probability}
        if source is None:
            unknown.append(service.name)
            evidence.append(
                f"{service.name}: unknown (no environment, no {PROBABILITY_ATTRIBUTE} on its spans)"
            )
            continue
        if probability is None:
            evidence.append(f"{service.name}: {source}: not a fixed share (rate-limited)")
            continue
        evidence.append(
            f"{service.name}: {source}: keeps {_share(probability)} of the traces it starts"
        )
        if probability == 0:
            off.append(service.name)
        elif probability < min_share:
            low.append(f"{service.name} {_share(probability)}")
    evidence.append(
        "children follow their parent's decision (parentbased): the service that starts a "
        "trace (the frontend, for user requests) decides the share kept"
    )
    fix = (
        "raise OTEL_TRACES_SAMPLER_ARG (e.g. parentbased_traceidratio 0.25), or keep "
        "errors and slow traces with tail sampling in the collector (docs/sampling.md)"
    )
    if off:
        return CheckResult(
            SAMPLING, FAIL, f"{', '.join(off)} sample(s) nothing", tuple(evidence), fix, data
        )
    if low:
        return CheckResult(
            SAMPLING,
            WARN,
            f"few traces kept: {', '.join(low)} (below {_share(min_share)})",
            tuple(evidence),
            fix,
            data,
        )
    if unknown and len(unknown) == len(services):
        return CheckResult(
            SAMPLING, SKIP, "no service's sampler could be read", tuple(evidence), data=data
        )
    return CheckResult(
        SAMPLING, PASS, "every known sampler keeps enough traces", tuple(evidence), data=data
    )


def check_processor(services: Sequence[ServiceConfig], traces: Sequence[Trace]) -> CheckResult:
    """Batch, not simple, span processors; a batch queue large enough for bursts."""
    evidence, simple, small, unknown = [], [], [], []
    data: dict[str, object] = {}
    for service in services:
        kind = service.span_processor()
        settings = service.batch_settings()
        source = (
            f"from {telemetry.PROCESSOR_VAR}"
            if service.env and service.env.get(telemetry.PROCESSOR_VAR)
            else "the default"
        )
        if kind is None:
            resource = _resource_of(traces, service.name) or {}
            raw = resource.get(telemetry.PROCESSOR_ATTRIBUTE)
            kind = str(raw) if raw is not None else None
            source = f"from resource {telemetry.PROCESSOR_ATTRIBUTE}"
        data[service.name] = {"processor": kind, "batch_settings": settings}
        if kind is None:
            unknown.append(service.name)
            evidence.append(
                f"{service.name}: unknown "
                f"(no environment, no {telemetry.PROCESSOR_ATTRIBUTE} on its spans)"
            )
            continue
        line = f"{service.name}: {kind} ({source})"
        if kind == "batch" and settings:
            line += ", " + " ".join(f"{k}={v}" for k, v in settings.items())
            queue = settings.get("OTEL_BSP_MAX_QUEUE_SIZE", "")
            if queue.isdigit() and int(queue) < SMALL_QUEUE:
                small.append(f"{service.name} (queue {queue})")
        evidence.append(line)
        if kind == "simple":
            simple.append(service.name)
    if simple:
        return CheckResult(
            PROCESSOR,
            FAIL,
            f"{', '.join(simple)} export(s) every span synchronously (simple span processor)",
            tuple(evidence),
            f"unset {telemetry.PROCESSOR_VAR} (or set it to batch): the batch processor exports "
            "in the background, in batches; the simple one adds an export round trip to every span",
            data,
        )
    if small:
        return CheckResult(
            PROCESSOR,
            WARN,
            f"small batch queue: {', '.join(small)}",
            tuple(evidence),
            "raise OTEL_BSP_MAX_QUEUE_SIZE (the services' default is "
            f"{telemetry.EXPORT_DEFAULTS['OTEL_BSP_MAX_QUEUE_SIZE']})",
            data,
        )
    if unknown and len(unknown) == len(services):
        return CheckResult(
            PROCESSOR, SKIP, "no service's span processor could be read", tuple(evidence), data=data
        )
    return CheckResult(PROCESSOR, PASS, "batch span processors", tuple(evidence), data=data)


def _callee(trace: Trace, span: Span) -> str | None:
    servers = [child.service for child in trace.children_of(span) if child.service != span.service]
    return servers[0] if servers else None


def broken_hops(trace: Trace, ctx: AnalysisContext) -> list[tuple[str, str]]:
    """(hop, finding title) of each broken-trace finding on ``trace``.

    The hop is the service pair where the parent is missing: a trace that
    starts with a client span of A calling B is ``A -> B`` (A lost the
    context of the work that made the call); a span whose parent is not in
    the trace is ``? -> its service``; a server span of A that made no call
    while A started a trace of its own is ``A -> <what that trace calls>``.
    """
    hops = []
    by_id = {span.span_id: span for span in trace}
    for finding in broken_trace(trace, ctx):
        for span_id in finding.spans:
            span = by_id[span_id]
            if span.kind == "client" and trace.parent_of(span) is None and not span.parent_span_id:
                hops.append((f"{span.service} -> {_callee(trace, span) or '?'}", finding.title))
            elif span.parent_span_id and trace.parent_of(span) is None:
                hops.append((f"? -> {span.service}", finding.title))
            else:
                pieces = finding.evidence.get("continued_in") or []
                callee = "?"
                if ctx.find_traces is not None and pieces:
                    for other in ctx.find_traces(
                        span.service, span.start_ns / 1e9 - 1, span.end_ns / 1e9 + 1
                    ):
                        if other.trace_id in pieces:
                            callee = next(
                                (c for r in other.roots() if (c := _callee(other, r))), "?"
                            )
                            break
                hops.append((f"{span.service} -> {callee}", finding.title))
    return hops


def check_propagation(
    traces: Sequence[Trace] | None,
    find_traces: Callable[[str, float, float], list[Trace]] | None = None,
) -> CheckResult:
    """Traces in several pieces (broken propagation), and the hop where the parent went missing."""
    if traces is None:
        return CheckResult(PROPAGATION, SKIP, "no trace backend to read (give --query-url)")
    if not traces:
        return CheckResult(
            PROPAGATION,
            SKIP,
            "no traces in the window",
            fix="send some traffic, or widen --lookback",
        )
    ctx = AnalysisContext(find_traces=find_traces)
    hops: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    broken = 0
    for trace in traces:
        found = broken_hops(trace, ctx)
        broken += bool(found)
        for hop in sorted({hop for hop, _ in found}):
            hops[hop] += 1
            if len(examples[hop]) < EXAMPLES:
                examples[hop].append(str(trace.trace_id))
    multi_root = sum(len(trace.roots()) > 1 for trace in traces)
    evidence = [
        f"{len(traces)} recent trace(s), {broken} in pieces, {multi_root} with several roots"
    ]
    evidence += [
        f"{hop}: {count} trace(s), e.g. {', '.join(examples[hop])}"
        for hop, count in hops.most_common()
    ]
    data = {
        "traces": len(traces),
        "broken": broken,
        "several_roots": multi_root,
        "hops": dict(hops),
        "examples": dict(examples),
    }
    if not broken:
        return CheckResult(PROPAGATION, PASS, "every trace is whole", tuple(evidence), data=data)
    worst_hop = hops.most_common(1)[0][0]
    return CheckResult(
        PROPAGATION,
        FAIL,
        f"{broken} of {len(traces)} trace(s) in pieces, at {', '.join(hops)}",
        tuple(evidence),
        f"at {worst_hop}: the caller lost the trace context before the call. Propagate it: "
        "inject traceparent into outgoing requests, and carry the context into threads and "
        "tasks (contextvars.copy_context().run, or pass the context to the executor)",
        data,
    )


@dataclass
class _Skew:
    spans: int = 0  # cross-service parent/child pairs seen
    outside: int = 0
    early_ms: float = 0.0  # the most a child started before its parent
    late_ms: float = 0.0  # the most a child ended after its parent
    examples: list[str] = field(default_factory=list)


def skewed_pairs(traces: Sequence[Trace], tolerance_ms: float) -> dict[str, _Skew]:
    """Per parent -> child service pair: child spans starting before or ending after their parent.

    Only pairs across services count (one process has one clock). A child
    ending late under a parent with error status is a caller that gave up
    (a timeout), not skew, so only its early start counts.
    """
    pairs: dict[str, _Skew] = defaultdict(_Skew)
    tolerance_ns = tolerance_ms * 1e6
    for trace in traces:
        for child in trace:
            parent = trace.parent_of(child)
            if parent is None or parent.service == child.service:
                continue
            skew = pairs[f"{parent.service} -> {child.service}"]
            skew.spans += 1
            early = parent.start_ns - child.start_ns
            late = child.end_ns - parent.end_ns if parent.status != "error" else 0
            if early > tolerance_ns or late > tolerance_ns:
                skew.outside += 1
                skew.early_ms = max(skew.early_ms, early / 1e6)
                skew.late_ms = max(skew.late_ms, late / 1e6)
                if len(skew.examples) < EXAMPLES:
                    skew.examples.append(f"{child.trace_id}/{child.span_id}")
    return dict(pairs)


def check_clock_skew(
    traces: Sequence[Trace] | None, tolerance_ms: float = DEFAULT_SKEW_TOLERANCE_MS
) -> CheckResult:
    """Child spans outside their parent by more than ``tolerance_ms``, per service pair."""
    if traces is None:
        return CheckResult(CLOCK_SKEW, SKIP, "no trace backend to read (give --query-url)")
    pairs = skewed_pairs(traces, tolerance_ms)
    if not pairs:
        return CheckResult(CLOCK_SKEW, SKIP, "no span calls another service in the window")
    evidence, skewed = [], []
    for pair, skew in sorted(pairs.items()):
        line = f"{pair}: {skew.outside} of {skew.spans} child span(s) outside the parent"
        if skew.outside:
            skewed.append(pair)
            line += (
                f" (started up to {skew.early_ms:.1f} ms early, "
                f"ended up to {skew.late_ms:.1f} ms late)"
            )
            line += f", e.g. {', '.join(skew.examples)}"
        evidence.append(line)
    data = {
        pair: {
            "spans": s.spans,
            "outside": s.outside,
            "early_ms": round(s.early_ms, 1),
            "late_ms": round(s.late_ms, 1),
        }
        for pair, s in pairs.items()
    }
    data["tolerance_ms"] = tolerance_ms  # type: ignore[assignment]
    if not skewed:
        return CheckResult(
            CLOCK_SKEW,
            PASS,
            f"children inside their parents (±{tolerance_ms:g} ms)",
            tuple(evidence),
            data=data,
        )
    return CheckResult(
        CLOCK_SKEW,
        FAIL,
        f"child spans outside their parents at {', '.join(skewed)} (beyond {tolerance_ms:g} ms)",
        tuple(evidence),
        "the hosts' clocks disagree: run NTP (chrony/systemd-timesyncd) on every host, or "
        "check the callee's clock; a span's times are taken from its own host's clock",
        data,
    )
