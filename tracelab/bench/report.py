"""Turn a :class:`~tracelab.bench.runner.BenchRun` into JSON, Markdown and a console table."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from tracelab.bench.analysis import (
    PER_SPAN_TARGET_US,
    cost_per_span,
    overheads,
    verdicts,
)
from tracelab.bench.configs import BASELINE
from tracelab.bench.metrics import SERVICES
from tracelab.bench.runner import BenchRun
from tracelab.bench.stats import Interval

SCHEMA = "tracelab-bench/1"
MEAN_METRICS = (
    "throughput_rps",
    "achieved_rate_rps",
    "service_cpu_s_per_1k",
    "pipeline_cpu_s_per_1k",
    "postgres_cpu_s_per_1k",
    "latency.mean_ms",
    "latency.p50_ms",
    "latency.p95_ms",
    "latency.p99_ms",
    "spans_per_request",
    "spans_dropped",
    "loadgen_core_fraction",
    "foreign_core_fraction",
)


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def interval_dict(interval: Interval) -> dict[str, Any]:
    """JSON form of an interval (NaN becomes null)."""
    return {
        "n": interval.n,
        "mean": _finite(interval.mean),
        "half_width": interval.half_width,
        "low": interval.low,
        "high": interval.high,
    }


def config_names(run: BenchRun) -> list[str]:
    """The run's configurations in their order."""
    return [c["name"] for c in run.configs]


def summary(run: BenchRun) -> dict[str, dict[str, Any]]:
    """Per configuration: round counts and means over its valid rounds."""
    result: dict[str, dict[str, Any]] = {}
    for name in config_names(run):
        rounds = [m for m in run.rounds if m.config == name]
        valid = [m for m in rounds if m.valid]
        means = {
            metric: _finite(float(np.mean([m.value(metric) for m in valid]))) if valid else None
            for metric in MEAN_METRICS
        }
        rss: dict[str, float] = {}
        for m in valid:
            for service, mib in m.rss_mib.items():
                rss[service] = max(rss.get(service, 0.0), mib)
        result[name] = {
            "rounds": len(rounds),
            "valid_rounds": len(valid),
            "means": means,
            "rss_mib_max": rss,
        }
    return result


def analyse(run: BenchRun) -> dict[str, Any]:
    """Overheads, target verdicts and per-span cost of a run, JSON-ready."""
    names = config_names(run)
    table = overheads(run.rounds, names)
    per_span: dict[str, dict[str, Any]] = {}
    for name in names:
        if name == BASELINE:
            continue
        entry = {}
        for reference in (BASELINE, "unsampled"):
            if reference in names and reference != name:
                found = cost_per_span(run.rounds, name, reference)
                if found is not None:
                    entry[f"vs_{reference}"] = interval_dict(found)
        if entry:
            per_span[name] = entry
    return {
        "overheads": {
            config: {
                metric: {
                    "baseline_mean": _finite(o.baseline_mean),
                    "absolute": interval_dict(o.absolute),
                    "relative_percent": interval_dict(o.relative),
                }
                for metric, o in metrics.items()
            }
            for config, metrics in table.items()
        },
        "targets": [
            {
                "label": v.target.label,
                "config": v.target.config,
                "metric": v.target.metric,
                "relative": v.target.relative,
                "limit": v.target.limit,
                **interval_dict(v.interval),
                "status": v.status,
                "precise": v.precise,
                "note": v.precision_note,
            }
            for v in verdicts(table)
        ],
        "per_span_us": per_span,
        "per_span_target_us": PER_SPAN_TARGET_US,
    }


def to_json(run: BenchRun) -> dict[str, Any]:
    """The whole result document (bench.json)."""
    return {
        "schema": SCHEMA,
        "label": run.settings.get("label"),
        "complete": run.complete,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "machine": run.machine,
        "settings": run.settings,
        "configs": run.configs,
        "probe": {
            "capacity_rps": run.capacity_rps,
            "levels": [asdict(p) for p in run.probes],
        },
        "target_rate": run.target_rate,
        "rounds": [_clean(m.to_dict()) for m in run.rounds],
        "summary": summary(run),
        **analyse(run),
        "invalid_rounds": [
            {"config": m.config, "round": m.round, "reasons": m.invalid_reasons}
            for m in run.rounds
            if not m.valid
        ],
    }


def _clean(value: Any) -> Any:
    """Replace NaN/inf by None so the file is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def write_json(run: BenchRun, path: Path) -> dict[str, Any]:
    """Write bench.json; return the document."""
    document = _clean(to_json(run))
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
    return document


def write_raw(run: BenchRun, path: Path) -> None:
    """Raw per-request timings (µs) of every round as a compressed .npz."""
    arrays: dict[str, np.ndarray] = {}
    for key, load in run.raw.items():
        prefix = key.replace("/", "__r")
        arrays[f"{prefix}__latency_us"] = np.asarray(load.latency_us, dtype=np.int64)
        arrays[f"{prefix}__service_us"] = np.asarray(load.service_us, dtype=np.int64)
        arrays[f"{prefix}__lag_us"] = np.asarray(load.lag_us, dtype=np.int64)
        arrays[f"{prefix}__status"] = np.asarray(load.status, dtype=np.int16)
        arrays[f"{prefix}__journey"] = np.asarray(load.journey, dtype=np.int8)
        arrays[f"{prefix}__journeys"] = np.asarray(load.journeys, dtype=np.str_)
        arrays[f"{prefix}__failed"] = np.asarray(load.failed, dtype=np.int8)
    np.savez_compressed(path, **arrays)


# -- text formatting ------------------------------------------------------------------------


def fmt_interval(interval: dict[str, Any], unit: str = "", digits: int = 2) -> str:
    """``+1.23% ±0.45`` (or ``n/a``; ``(n=1)`` when there is no CI)."""
    mean = interval.get("mean")
    if mean is None:
        return "n/a"
    text = f"{mean:+.{digits}f}{unit}"
    half = interval.get("half_width")
    return f"{text} ±{half:.{digits}f}" if half is not None else f"{text} (n={interval['n']})"


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


OVERHEAD_COLUMNS: tuple[tuple[str, str, bool, str], ...] = (
    ("CPU/req", "service_cpu_s_per_1k", True, "%"),
    ("mean", "latency.mean_ms", True, "%"),
    ("p50 Δms", "latency.p50_ms", False, ""),
    ("p95 Δms", "latency.p95_ms", False, ""),
    ("p99 Δms", "latency.p99_ms", False, ""),
)


def overhead_rows(document: dict[str, Any]) -> list[list[str]]:
    """Rows of the overhead table: config, valid pairs, each column, spans/req."""
    rows = []
    for config, metrics in document["overheads"].items():
        row = [config, str(metrics["service_cpu_s_per_1k"]["absolute"]["n"])]
        for _title, metric, relative, unit in OVERHEAD_COLUMNS:
            key = "relative_percent" if relative else "absolute"
            row.append(fmt_interval(metrics[metric][key], unit))
        means = document["summary"][config]["means"]
        row.append(_num(means["spans_per_request"]))
        rows.append(row)
    return rows


def mean_rows(document: dict[str, Any]) -> list[list[str]]:
    """Rows of the absolute table: per configuration means over valid rounds."""
    rows = []
    for config, entry in document["summary"].items():
        m = entry["means"]
        rss_total = sum(entry["rss_mib_max"].get(s, 0.0) for s in SERVICES)
        lg, other = m["loadgen_core_fraction"], m["foreign_core_fraction"]
        rows.append(
            [
                config,
                f"{entry['valid_rounds']}/{entry['rounds']}",
                _num(m["throughput_rps"], 1),
                f"{_num(m['achieved_rate_rps'], 1)} / {_num(document['target_rate'], 1)}",
                _num(m["service_cpu_s_per_1k"], 3),
                _num(m["pipeline_cpu_s_per_1k"], 3),
                _num(m["latency.mean_ms"], 3),
                _num(m["latency.p50_ms"], 3),
                _num(m["latency.p95_ms"], 3),
                _num(m["latency.p99_ms"], 3),
                _num(rss_total, 0),
                _num(m["spans_dropped"], 0),
                "n/a" if lg is None else f"{lg:.0%}",
                "n/a" if other is None else f"{other:.0%}",
            ]
        )
    return rows


MEAN_HEADERS = [
    "config",
    "valid",
    "req/s",
    "sent/s / target",
    "CPU s/1k (services)",
    "CPU s/1k (collector+Jaeger)",
    "mean ms",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "RSS MiB (services)",
    "spans dropped",
    "load gen CPU",
    "other CPU",
]
OVERHEAD_HEADERS = [
    "config",
    "pairs",
    *[c[0] for c in OVERHEAD_COLUMNS],
    "spans/req",
]


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned table for the terminal."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def per_span_status(interval: dict[str, Any], target_us: float) -> str:
    """The targets table's verdict for a per-span cost, by the same rule as the others."""
    mean, half = interval.get("mean"), interval.get("half_width")
    if mean is None or mean != mean:  # None or NaN
        return "n/a"
    if mean > target_us:
        return "missed"
    if half is not None and mean + half <= target_us:
        return "met"
    return "within-mean"


def target_rows(document: dict[str, Any]) -> list[list[str]]:
    """Rows of the targets table."""
    rows = []
    for t in document["targets"]:
        unit = "%" if t["relative"] else " ms"
        rows.append([t["label"], fmt_interval(t, unit), t["status"], t["note"]])
    for config, entry in document["per_span_us"].items():
        for reference, interval in entry.items():
            status = per_span_status(interval, document["per_span_target_us"])
            rows.append(
                [
                    f"{config}: CPU per exported span {reference.replace('_', ' ')} "
                    f"≤ {document['per_span_target_us']:.0f} µs",
                    fmt_interval(interval, " µs", 1),
                    status,
                    "",
                ]
            )
    return rows


def console_summary(document: dict[str, Any]) -> str:
    """What ``tracelab bench`` prints at the end."""
    parts = [
        f"offered load {document['target_rate']:.1f} req/s "
        f"(capacity probe: {_num(document['probe']['capacity_rps'], 1)} req/s)",
        f"driver: {driver_statement(document['settings'])}",
        "",
        "Overhead against tracing-off (paired by round; mean ± 95% CI half-width):",
        text_table(OVERHEAD_HEADERS, overhead_rows(document)),
        "",
        "Means over valid rounds:",
        text_table(MEAN_HEADERS, mean_rows(document)),
        "",
        "Targets:",
        text_table(["target", "measured", "status", "precision"], target_rows(document)),
    ]
    if document["invalid_rounds"]:
        parts += ["", "Invalid rounds (left out of the statistics):"]
        parts += [
            f"  {r['config']} round {r['round']}: {'; '.join(r['reasons'])}"
            for r in document["invalid_rounds"]
        ]
    return "\n".join(parts)


def driver_statement(settings: dict[str, Any]) -> str:
    """What drove the load and how its latencies are corrected for coordinated omission."""
    if settings.get("driver", "open-loop") == "open-loop":
        return (
            "the open-loop generator (`--driver open-loop`): requests sent on a fixed seeded "
            "Poisson schedule whatever the answers do; latency from each request's scheduled "
            "send time, so a late send counts against the system (no coordinated omission)"
        )
    users = settings.get("users") or f"rate x {settings.get('pace_period_s', 1.0):g} s"
    return (
        f"Locust in library mode with `{settings.get('locustfile')}`, users: {users}, paced to "
        "the rate (each user's tasks on a fixed schedule, seeded random phases). Coordinated "
        "omission: latency is measured from each request's intended send time (its task's "
        "intended start plus its place in the task), so a user that starts late is charged "
        "the delay; the achieved rate (sends started in the window) is shown beside the "
        "target, and a round that started under 95% of its plan, or whose sends lagged "
        "the schedule by more than 20 ms at p99, is invalid"
    )


def markdown_report(document: dict[str, Any], plots: Sequence[str]) -> str:
    """The Markdown report (report.md) with the plots linked."""
    machine = document["machine"]
    settings = document["settings"]
    lines = [
        f"# tracelab tracing-overhead benchmark ({document['label']})",
        "",
        f"- run: {document['started_at']} → {document['finished_at']}"
        + ("" if document["complete"] else " (INTERRUPTED: partial results)"),
        f"- machine: {machine['cpu_model']}, {machine['logical_cpus']} logical CPUs, "
        f"{machine['memory_gib']} GiB, {machine['os']}, Python {machine['python']}, "
        f"OpenTelemetry SDK {machine['opentelemetry_sdk']}; load average at start "
        f"{machine['load_average_at_start']}, at end {machine.get('load_average_at_end')}",
        f"- load: {document['target_rate']:.1f} req/s "
        f"({settings['load_fraction']:.0%} of the untraced capacity "
        f"{_num(document['probe']['capacity_rps'], 1)} req/s) unless fixed by --rate; "
        f"{settings['rounds']} interleaved rounds x {settings['duration_s']:.0f} s after "
        f"{settings['warmup_s']:.0f} s warm-up per configuration and round",
        "- everything (stack and load generator) shares the machine's cores",
        f"- driver: {driver_statement(settings)}",
    ]
    if settings.get("extra_env"):
        lines.append(f"- extra environment for every configuration: `{settings['extra_env']}`")
    lines += [
        "",
        "## Overhead against tracing-off",
        "",
        "Mean of the per-round paired differences ± the half-width of its 95% confidence",
        "interval (t distribution). CPU/req and mean in percent of tracing-off; p50/p95/p99",
        "in milliseconds.",
        "",
        markdown_table(OVERHEAD_HEADERS, overhead_rows(document)),
        "",
        "## Means over valid rounds",
        "",
        markdown_table(MEAN_HEADERS, mean_rows(document)),
        "",
        "## Targets",
        "",
        markdown_table(["target", "measured", "status", "precision"], target_rows(document)),
        "",
        "`met`: the whole CI is within the target; `within-mean`: the mean is, the CI",
        "is not; `missed`: the mean is over the target.",
        "",
        "## Configurations",
        "",
        *[f"- `{c['name']}`: {c['description']} — `{c['env']}`" for c in document["configs"]],
        "",
    ]
    if document["invalid_rounds"]:
        lines += ["## Invalid rounds (left out of the statistics)", ""]
        lines += [
            f"- {r['config']} round {r['round']}: {'; '.join(r['reasons'])}"
            for r in document["invalid_rounds"]
        ]
        lines.append("")
    if plots:
        lines += ["## Plots", ""]
        lines += [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
        lines.append("")
    return "\n".join(lines)
