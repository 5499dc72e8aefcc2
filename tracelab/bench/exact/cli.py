"""``tracelab bench-exact`` (``make bench-exact``): exact tracing overhead with callgrind."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from tracelab.bench.exact import analysis, configs, report
from tracelab.bench.exact.runner import ConfigResult, ExactRun, ExactRunner, ExactSettings
from tracelab.bench.runner import timestamp
from tracelab.stack import StackError
from tracelab.stack.paths import repo_root


def write_outputs(
    run: ExactRun,
    out_dir: Path,
    previous: dict[str, Any] | None = None,
    time_document: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """exact.json, report.md and exact.png in ``out_dir``; returns the document."""
    out_dir.mkdir(parents=True, exist_ok=True)
    document = report.to_document(run, previous)
    comparison = []
    if time_document is not None and "ratios" in document:
        exact = {
            name: analysis.mean([w[analysis.TOTAL] for w in rows])
            for name, rows in document["ratios"].items()
        }
        comparison = analysis.compare_with_time(exact, time_document)
        document["time_comparison"] = comparison
    report.write_json(document, out_dir / "exact.json")
    png = report.plot(document, out_dir / "exact.png")
    plots = [str(png)] if png else []
    (out_dir / "report.md").write_text(report.markdown_report(document, plots, comparison))
    return document


def load_run(path: Path) -> ExactRun:
    """An ExactRun back from the raw results kept beside exact.json (``raw.json``)."""
    data = json.loads(path.read_text())
    run = ExactRun(**{k: v for k, v in data.items() if k != "results"})
    run.results = [ConfigResult(**r) for r in data["results"]]
    return run


def save_raw(run: ExactRun, path: Path) -> None:
    """The raw counts (every window, every function's self cost) for ``--report-from``."""
    from dataclasses import asdict

    path.write_text(json.dumps(asdict(run)) + "\n")


def _read_json(path: Path | None) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path is not None else None


@click.command("bench-exact")
@click.option("--configs", "names", default="", help="Comma-separated configurations [all].")
@click.option("--no-ablations", is_flag=True, help="Only the configurations, no attribution.")
@click.option("--requests", default=40, show_default=True, help="Requests per window.")
@click.option("--warmup", default=20, show_default=True, help="Warm-up requests (not counted).")
@click.option("--windows", default=2, show_default=True, help="Counted windows per configuration.")
@click.option(
    "--ablation-windows", default=1, show_default=True, help="Counted windows per ablation."
)
@click.option("--seed", default=4242, show_default=True, help="Seed of the request plan.")
@click.option("--out", "out_dir", default="results/bench-exact", show_default=True)
@click.option("--run-dir", default=".run/bench-exact", show_default=True)
@click.option("--label", default="bench-exact", show_default=True)
@click.option(
    "--against",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An earlier exact.json: its ratios beside this run's, with the difference.",
)
@click.option(
    "--time-result",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A time benchmark's bench.json: is each exact ratio inside its 95% interval?",
)
@click.option(
    "--report-from",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Measure nothing: re-render the report of a finished run (its raw.json).",
)
def bench_exact(
    names: str,
    no_ablations: bool,
    requests: int,
    warmup: int,
    windows: int,
    ablation_windows: int,
    seed: int,
    out_dir: str,
    run_dir: str,
    label: str,
    against: Path | None,
    time_result: Path | None,
    report_from: Path | None,
) -> None:
    """Exact tracing overhead: the services under callgrind, instructions per request."""
    previous, time_document = _read_json(against), _read_json(time_result)
    if report_from is not None:
        document = write_outputs(
            load_run(report_from / "raw.json"), report_from, previous, time_document
        )
        click.echo(report.console_summary(document))
        return
    root = repo_root()
    try:
        chosen = configs.select(
            [n.strip() for n in names.split(",") if n.strip()], ablations=not no_ablations
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--configs") from None
    settings = ExactSettings(
        root=root,
        out_dir=root / out_dir,
        run_dir=root / run_dir,
        configs=chosen,
        requests=requests,
        warmup=warmup,
        windows=windows,
        ablation_windows=ablation_windows,
        seed=seed,
        label=label,
    )
    result_dir = settings.out_dir / f"{label}-{timestamp()}"
    click.echo(f"results: {result_dir}")
    started = time.monotonic()

    def partial(run: ExactRun) -> None:
        result_dir.mkdir(parents=True, exist_ok=True)
        save_raw(run, result_dir / "raw.json")

    try:
        run = ExactRunner(settings, echo=lambda line: click.echo(line, err=True)).run(partial)
    except (StackError, RuntimeError, ValueError) as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    partial(run)
    document = write_outputs(run, result_dir, previous, time_document)
    click.echo("")
    click.echo(report.console_summary(document))
    minutes = (time.monotonic() - started) / 60
    click.echo(f"\nreport: {result_dir / 'report.md'} (wall time {minutes:.1f} min)")
