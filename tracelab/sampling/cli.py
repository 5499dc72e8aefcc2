"""``tracelab sampling compare``: head, rate-limiting and tail sampling on the same load."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from tracelab.stack.paths import repo_root


@click.group("sampling")
def sampling() -> None:
    """Sampling strategies side by side."""


@sampling.command("compare")
@click.option(
    "--requests", "n_requests", default=300, show_default=True, type=click.IntRange(10, 5000)
)
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 16))
@click.option("--head-ratio", default=0.1, show_default=True, type=click.FloatRange(0, 1))
@click.option("--rate", default=5.0, show_default=True, help="Traces/s of the rate limiter.")
@click.option("--slow-ms", default=500, show_default=True, help="Tail sampling's slow threshold.")
@click.option("--tail-percent", default=10.0, show_default=True, help="Tail's share of the rest.")
@click.option("--error-rate", default=0.1, show_default=True, type=click.FloatRange(0, 1))
@click.option("--slow-share", default=0.1, show_default=True, type=click.FloatRange(0, 1))
@click.option(
    "--strategy",
    "only",
    multiple=True,
    type=click.Choice(["head", "rate-limit", "tail"]),
    help="Run only these (default: all three).",
)
@click.option("--out", type=click.Path(path_type=Path), help="Report directory (default results/).")
def compare(
    n_requests: int,
    concurrency: int,
    head_ratio: float,
    rate: float,
    slow_ms: int,
    tail_percent: float,
    error_rate: float,
    slow_share: float,
    only: tuple[str, ...],
    out: Path | None,
) -> None:
    """Restart the local stack once per strategy, run the same faulty load, compare.

    Restarts the stack of this run directory (TRACELAB_RUN_DIR and the port
    variables apply); load goes to 127.0.0.1 only. Writes sampling.json and
    sampling.md under results/.
    """
    from tracelab.sampling import report
    from tracelab.sampling.compare import Load
    from tracelab.sampling.compare import compare as run_compare
    from tracelab.sampling.strategies import strategies

    root = repo_root()
    load = Load(n_requests, concurrency, error_rate, slow_share, slow_ms)
    chosen = [
        s for s in strategies(head_ratio, rate, slow_ms, tail_percent) if not only or s.name in only
    ]
    results = run_compare(root, dict(os.environ), chosen, load, click.echo)
    document = report.build(results, load)
    out_dir = out or root / "results" / time.strftime("sampling-%Y%m%d-%H%M%S")
    json_path, md_path = report.write(document, out_dir)
    click.echo(report.markdown(document))
    click.echo(f"report: {json_path} and {md_path}")
