"""``tracelab doctor``: run the troubleshooting checklist (docs/doctor.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from services.common import telemetry
from tracelab.doctor import checks, gather
from tracelab.doctor.model import exit_code, render_json, render_text
from tracelab.doctor.target import DEFAULT_LOOKBACK_S, DoctorError, given, local_stack


def _logs(pairs: tuple[str, ...]) -> dict[str, Path]:
    logs = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise DoctorError(f"--log {pair!r} is not SERVICE=PATH")
        logs[name] = Path(path)
    return logs


@click.command("doctor")
@click.option(
    "--endpoint",
    help="An OTLP endpoint to check instead of the local stack (e.g. http://host:4318).",
)
@click.option(
    "--protocol",
    type=click.Choice(telemetry.PROTOCOLS),
    help="The protocol the exporters speak to --endpoint (default http/protobuf).",
)
@click.option(
    "--service",
    "services",
    multiple=True,
    help="A service to check (repeatable; default: every service of the local stack).",
)
@click.option(
    "--query-url", help="Jaeger's query URL, to read recent traces (e.g. http://host:16686)."
)
@click.option("--collector-metrics", help="The collector's own metrics URL (its :8888/metrics).")
@click.option(
    "--service-metrics",
    help="Where the services' span-loss counters are exposed (the collector's :8889/metrics).",
)
@click.option("--log", "logs", multiple=True, metavar="SERVICE=PATH", help="A service's JSON log.")
@click.option(
    "--lookback",
    type=float,
    default=DEFAULT_LOOKBACK_S,
    show_default=True,
    help="Seconds of traces and log lines to look at.",
)
@click.option(
    "--min-sampling",
    type=float,
    default=checks.DEFAULT_MIN_SAMPLING,
    show_default=True,
    help="Warn when a sampler keeps a smaller share of new traces.",
)
@click.option(
    "--skew-tolerance-ms",
    type=float,
    default=checks.DEFAULT_SKEW_TOLERANCE_MS,
    show_default=True,
    help="How far a child span may stick out of its parent before it counts as clock skew.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def doctor(
    endpoint: str | None,
    protocol: str | None,
    services: tuple[str, ...],
    query_url: str | None,
    collector_metrics: str | None,
    service_metrics: str | None,
    logs: tuple[str, ...],
    lookback: float,
    min_sampling: float,
    skew_tolerance_ms: float,
    as_json: bool,
) -> None:
    """Check why traces go missing or cost too much: each check PASS/WARN/FAIL, evidence, fix.

    Without --endpoint, checks the running local stack (TRACELAB_RUN_DIR
    relocates it). Exits 1 when a check fails.
    """
    try:
        if endpoint:
            target = given(
                endpoint,
                protocol or "http/protobuf",
                services,
                query_url=query_url,
                collector_metrics_url=collector_metrics,
                service_metrics_url=service_metrics,
                logs=_logs(logs),
                lookback_s=lookback,
            )
        else:
            if protocol:
                raise DoctorError("--protocol goes with --endpoint")
            target = local_stack(os.environ, services, lookback)
    except DoctorError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    results = gather.run(target, min_sampling=min_sampling, skew_tolerance_ms=skew_tolerance_ms)
    if as_json:
        click.echo(render_json(results, target.to_dict()))
    else:
        click.echo(render_text(results, target.label))
    sys.exit(exit_code(results))
