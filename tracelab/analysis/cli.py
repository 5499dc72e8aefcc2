"""``tracelab analyze|compare|critical-path|service-map``: the console's analyses, as commands.

Each prints a readable summary, or with ``--json`` the very document the
console's API returns. Exit status: 0 done, 2 bad input or an unreachable
backend (one line on stderr).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from tracelab.analysis.service import (
    AnalysisError,
    analyze_trace,
    compare_traces,
    configured_sampling,
    critical_path_report,
    service_map_report,
)
from tracelab.analysis.service_map import MetricsHistory, service_addresses
from tracelab.console.settings import ConsoleSettings
from tracelab.journeys import BY_NAME
from tracelab.shapes.backends import DEFAULT_URLS, BackendClient, BackendError, client_for
from tracelab.shapes.ids import normalise_trace_id
from tracelab.shapes.model import Trace
from tracelab.shapes.query import QueryError, parse_duration_ms, parse_pair

EXIT_ERROR = 2
T = TypeVar("T")

backend_option = click.option(
    "--backend",
    type=click.Choice(sorted(DEFAULT_URLS)),
    default="jaeger",
    show_default=True,
    help="Tracing backend to read from.",
)
url_option = click.option("--url", default=None, help="Backend base URL (default: the local one).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the JSON document.")


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise click.exceptions.Exit(EXIT_ERROR)


def _run(action: Callable[[], T]) -> T:
    try:
        return action()
    except (AnalysisError, BackendError, QueryError, ValueError) as exc:
        _fail(str(exc))


def _fetch(client: BackendClient, raw_id: str, wait: float) -> Trace:
    trace_id = _run(lambda: normalise_trace_id(raw_id))
    return _run(lambda: client.wait_for_trace(trace_id, timeout=wait))


def _emit(document: dict[str, Any], as_json: bool, summary: Callable[[], list[str]]) -> None:
    click.echo(json.dumps(document, indent=2) if as_json else "\n".join(summary()))


@click.command("analyze")
@click.option("--trace-id", required=True, help="Trace id, 32 hex digits.")
@backend_option
@url_option
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="NAME=VALUE",
    help="Change a detector threshold (repeatable); see docs/analysis.md.",
)
@click.option("--wait", type=float, default=10.0, show_default=True, help="Seconds to wait for it.")
@json_option
def analyze(
    trace_id: str,
    backend: str,
    url: str | None,
    thresholds: tuple[str, ...],
    wait: float,
    as_json: bool,
) -> None:
    """What is probably wrong with trace TRACE_ID: every detector's findings."""
    client = client_for(backend, url)
    overrides = _run(lambda: dict(parse_pair(pair, "threshold") for pair in thresholds))
    trace = _fetch(client, trace_id, wait)
    document = _run(lambda: analyze_trace(trace, client, overrides))

    def summary() -> list[str]:
        found = document["findings"]
        lines = [f"trace {document['trace_id']}: {len(found)} finding(s)"]
        lines += [f"  {f['kind']}: {f['title']}" for f in found]
        return lines

    _emit(document, as_json, summary)


@click.command("compare")
@click.argument("trace_a")
@click.argument("trace_b")
@backend_option
@url_option
@click.option(
    "--wait", type=float, default=10.0, show_default=True, help="Seconds to wait for each."
)
@json_option
def compare(
    trace_a: str, trace_b: str, backend: str, url: str | None, wait: float, as_json: bool
) -> None:
    """Compare traces TRACE_A and TRACE_B span by span (B minus A)."""
    client = client_for(backend, url)
    document = compare_traces(_fetch(client, trace_a, wait), _fetch(client, trace_b, wait))

    def summary() -> list[str]:
        a, b = document["a"], document["b"]
        lines = [
            f"A {a['trace_id']}: {a['duration_ms']:.1f} ms, {a['span_count']} spans",
            f"B {b['trace_id']}: {b['duration_ms']:.1f} ms, {b['span_count']} spans",
            f"latency {document['delta_ms']:+.1f} ms, "
            f"critical path {document['critical_path_delta_ms']:+.1f} ms",
            "largest critical-path changes:",
        ]
        lines += [
            f"  {c['service']} {c['name']}: {c['critical_delta_ms']:+.1f} ms "
            f"(latency {c['delta_ms']:+.1f}, self {c['self_delta_ms']:+.1f})"
            for c in document["largest_changes"]
        ]
        lines += [f"  only in A: {s['service']} {s['name']}" for s in document["only_a"]]
        lines += [f"  only in B: {s['service']} {s['name']}" for s in document["only_b"]]
        return lines

    _emit(document, as_json, summary)


@click.command("critical-path")
@click.option("--journey", required=True, type=click.Choice(sorted(BY_NAME)), help="Whose traces.")
@click.option("--last", type=click.IntRange(1, 1000), default=200, show_default=True)
@click.option("--lookback", default="1h", show_default=True, help="How far back to look.")
@click.option(
    "--versus",
    "versus",
    default=None,
    metavar="DURATION",
    help="Also profile the same span of time before that, and compare (e.g. 10m).",
)
@backend_option
@url_option
@json_option
def critical_path(
    journey: str,
    last: int,
    lookback: str,
    versus: str | None,
    backend: str,
    url: str | None,
    as_json: bool,
) -> None:
    """Critical path over the last N traces of a journey, optionally against an earlier window."""
    client = client_for(backend, url)
    now = time.time()
    span_s = _run(lambda: parse_duration_ms(lookback, "lookback")) / 1000
    window = (now - span_s, now)
    before = None
    if versus:
        back = _run(lambda: parse_duration_ms(versus, "versus")) / 1000
        before = (window[0] - back, window[0])
    document = _run(lambda: critical_path_report(client, journey, last, window, before))

    def summary() -> list[str]:
        profile = document["profile"]
        lines = [
            f"{profile['traces']} {journey} trace(s): p50 {profile['latency_p50_ms']:.1f} ms, "
            f"p99 {profile['latency_p99_ms']:.1f} ms",
            f"{'service':<10} {'operation':<34} {'p50':>9} {'p99':>9} {'share':>7}",
        ]
        lines += [
            f"{o['service']:<10} {o['name'][:34]:<34} {o['p50_ms']:>8.1f}  {o['p99_ms']:>8.1f} "
            f"{o['share']:>7.1%}"
            for o in profile["operations"]
        ]
        if document.get("headline"):
            lines.append(f"against the window before: {document['headline']}")
        elif document.get("note"):
            lines.append(document["note"])
        return lines

    _emit(document, as_json, summary)


@click.command("service-map")
@click.option(
    "--over",
    default="30s",
    show_default=True,
    help="Measure over this long from now (the span metrics are read at both ends).",
)
@click.option(
    "--metrics-url",
    default=None,
    help="The collector's span metrics (default: TRACELAB_SPAN_METRICS_URL or the local one).",
)
@backend_option
@url_option
@json_option
def service_map_command(
    over: str, metrics_url: str | None, backend: str, url: str | None, as_json: bool
) -> None:
    """Services and calls with rate, errors, p50/p99, raw and sampling-corrected."""
    settings = ConsoleSettings.from_env()
    seconds = _run(lambda: parse_duration_ms(over, "over")) / 1000
    history = MetricsHistory(metrics_url or settings.span_metrics_url, keep=seconds * 2 + 60)
    if history.scrape() is None:
        _fail(history.last_error or "the span metrics could not be read")
    time.sleep(seconds)
    if history.scrape() is None:
        _fail(history.last_error or "the span metrics could not be read")
    window = history.window(seconds)
    assert window is not None  # two snapshots were just taken
    client = client_for(backend, url)
    document = _run(
        lambda: service_map_report(
            client,
            window,
            default_probability=configured_sampling(settings.sampler, settings.sampler_arg),
            known_peers=service_addresses(settings.services),
        )
    )

    def summary() -> list[str]:
        lines = [
            f"over {document['window_s']:.0f} s ({document['traces_read']} traces read)",
            f"{'service / call':<24} {'rate':>9} {'corrected':>18} {'errors':>7} "
            f"{'p50':>8} {'p99':>8}",
        ]
        rows = [(s["name"], s) for s in document["services"] if s["kind"] == "service"]
        rows += [(f"{e['from']} -> {e['to']}", e) for e in document["edges"]]
        for name, item in rows:
            corrected = (
                f"{item['corrected_rate_per_s']:.2f} ± {item['corrected_rate_stderr']:.2f}/s"
            )
            lines.append(
                f"{name:<24} {item['rate_per_s']:>7.2f}/s {corrected:>18} "
                f"{item['error_rate']:>7.1%} {_ms(item['p50_ms']):>8} {_ms(item['p99_ms']):>8}"
            )
        return lines

    _emit(document, as_json, summary)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}ms"
