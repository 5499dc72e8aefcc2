"""PNG plots of a run (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from tracelab.bench.runner import BenchRun

DPI = 110


def _errorbar_values(intervals: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    means = [i["mean"] if i["mean"] is not None else np.nan for i in intervals]
    halves = [i["half_width"] if i["half_width"] is not None else 0.0 for i in intervals]
    return means, halves


def plot_overhead(document: dict[str, Any], path: Path) -> Path:
    """Bars of CPU/request and mean-latency overhead (%) and Δp99 (ms), with 95% CIs."""
    configs = list(document["overheads"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    x = np.arange(len(configs))
    width = 0.38
    for offset, (metric, label) in zip(
        (-width / 2, width / 2),
        (("service_cpu_s_per_1k", "CPU per request"), ("latency.mean_ms", "mean latency")),
        strict=True,
    ):
        intervals = [document["overheads"][c][metric]["relative_percent"] for c in configs]
        means, halves = _errorbar_values(intervals)
        left.bar(x + offset, means, width, yerr=halves, capsize=4, label=label)
    left.axhline(0, color="black", linewidth=0.8)
    left.set_xticks(x, configs, rotation=20)
    left.set_ylabel("overhead vs tracing-off (%)")
    left.set_title("CPU and mean latency (95% CI)")
    left.legend()
    intervals = [document["overheads"][c]["latency.p99_ms"]["absolute"] for c in configs]
    means, halves = _errorbar_values(intervals)
    right.bar(x, means, 0.5, yerr=halves, capsize=4, color="tab:red")
    right.axhline(0, color="black", linewidth=0.8)
    right.set_xticks(x, configs, rotation=20)
    right.set_ylabel("Δ p99 latency vs tracing-off (ms)")
    right.set_title("p99 latency (95% CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def plot_latency(run: BenchRun, path: Path) -> Path:
    """Latency CDF per configuration, all valid rounds pooled (log scale)."""
    valid = {(m.config, m.round) for m in run.rounds if m.valid}
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for config in [c["name"] for c in run.configs]:
        pooled = [
            np.asarray(load.latency_us, dtype=np.float64)[np.asarray(load.status) > 0]
            for key, load in run.raw.items()
            if key.split("/")[0] == config and (config, int(key.split("/")[1])) in valid
        ]
        values = np.sort(np.concatenate(pooled)) / 1000.0 if pooled else np.array([])
        if values.size:
            ax.plot(values, np.arange(1, values.size + 1) / values.size, label=config)
    ax.set_xscale("log")
    ax.set_xlabel("latency from scheduled send (ms, log scale)")
    ax.set_ylabel("fraction of requests")
    ax.set_title("Latency distribution (valid rounds pooled)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def plot_rounds(run: BenchRun, path: Path) -> Path:
    """CPU per 1k requests of each configuration, round by round (drift check)."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for config in [c["name"] for c in run.configs]:
        points = sorted(
            (m.round, m.service_cpu_s_per_1k, m.valid) for m in run.rounds if m.config == config
        )
        if not points:
            continue
        rounds, cpu, valid = zip(*points, strict=True)
        line = ax.plot(rounds, cpu, marker="o", label=config)[0]
        bad = [(r, c) for r, c, ok in points if not ok]
        if bad:
            ax.scatter(*zip(*bad, strict=True), marker="x", s=80, color=line.get_color())
        del valid
    ax.set_xlabel("round")
    ax.set_ylabel("service CPU s / 1k requests")
    ax.set_title("CPU per request by round (x: invalid round)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def write_plots(run: BenchRun, document: dict[str, Any], out_dir: Path) -> list[Path]:
    """Every plot of the report into ``out_dir``."""
    paths = [plot_latency(run, out_dir / "latency.png"), plot_rounds(run, out_dir / "rounds.png")]
    if document["overheads"]:
        paths.insert(0, plot_overhead(document, out_dir / "overhead.png"))
    return paths
