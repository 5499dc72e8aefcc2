"""The comparison as JSON and Markdown."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from services.common.scenarios import FLAKY_AUTH, SLOW_QUERY
from tracelab.sampling.compare import Load, StrategyResult


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def build(results: list[StrategyResult], load: Load) -> dict[str, Any]:
    """The JSON document."""
    return {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load": asdict(load),
        "strategies": [r.to_dict() for r in results],
    }


def markdown(report: dict[str, Any]) -> str:
    """A table per question: what was kept, what it cost, what RED metrics saw."""
    load = report["load"]
    lines = [
        "# Sampling strategies side by side",
        "",
        f"Load: {load['requests']} dashboards, {load['concurrency']} concurrent, "
        f"{FLAKY_AUTH.name} {load['error_rate']:.0%} (errors), {SLOW_QUERY.name} on "
        f"{load['slow_share']:.0%} (slow >= {load['slow_ms']} ms). Measured from Jaeger "
        "and the collector's metrics.",
        "",
        "| strategy | traces kept | error traces kept | slow traces kept "
        "| spans/s exported | RED calls seen | RED errors seen |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in report["strategies"]:
        lines.append(
            f"| {s['strategy']} | {s['kept']}/{s['requests']} ({_pct(s['kept_share'])}) "
            f"| {s['errors_kept']}/{s['errors_sent']} ({_pct(s['error_traces_kept_share'])}) "
            f"| {s['slow_kept']}/{s['slow_sent']} ({_pct(s['slow_traces_kept_share'])}) "
            f"| {s['spans_exported_per_s']} "
            f"| {s['red_calls']:.0f} ({_pct(s['red_calls_seen_share'])}) "
            f"| {s['red_errors']:.0f} ({_pct(s['red_errors_seen_share'])}) |"
        )
    lines += ["", "Strategies:", ""]
    lines += [f"- **{s['strategy']}**: {s['description']}" for s in report["strategies"]]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``sampling.json`` and ``sampling.md`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "sampling.json", out_dir / "sampling.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text(markdown(report))
    return json_path, md_path
