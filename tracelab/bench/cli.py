"""``tracelab bench``: the tracing-overhead benchmark from the command line."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from tracelab.bench import plots, report
from tracelab.bench.configs import CONFIG_NAMES, BenchConfig, parse_variant
from tracelab.bench.reload import load_run, rejudge
from tracelab.bench.runner import BenchRun, BenchRunner, BenchSettings, timestamp
from tracelab.stack import StackError
from tracelab.stack.paths import repo_root


@dataclass(frozen=True)
class Preset:
    """Defaults of a run length; explicit options win."""

    rounds: int
    duration_s: float
    warmup_s: float
    probe_s: float
    probe_concurrency: tuple[int, ...]


FULL = Preset(rounds=5, duration_s=30.0, warmup_s=10.0, probe_s=10.0, probe_concurrency=(8, 32))
# A few minutes: enough to see every configuration work, not to decide targets.
QUICK = Preset(rounds=3, duration_s=8.0, warmup_s=4.0, probe_s=5.0, probe_concurrency=(16,))


def parse_env_options(values: tuple[str, ...]) -> dict[str, str]:
    """``KEY=VALUE`` options as a dict (a bad one is a usage error)."""
    env = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--env")
        env[key.strip()] = value
    return env


def _variant(text: str) -> BenchConfig:
    try:
        return parse_variant(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--variant") from None


def write_outputs(run: BenchRun, out_dir: Path, *, final: bool) -> dict[str, Any]:
    """bench.json always; raw timings, plots and report.md when ``final``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    document = report.write_json(run, out_dir / "bench.json")
    if final:
        report.write_raw(run, out_dir / "raw.npz")
        pngs = plots.write_plots(run, document, out_dir)
        (out_dir / "report.md").write_text(report.markdown_report(document, [str(p) for p in pngs]))
    return document


def _report_again(result_dir: Path) -> None:
    run = rejudge(load_run(result_dir))
    out = result_dir.with_name(result_dir.name + "-reanalysed")
    document = write_outputs(run, out, final=True)
    click.echo(report.console_summary(document))
    click.echo(f"report: {out / 'report.md'}")


@click.command("bench")
@click.option("--quick", is_flag=True, help="Short run (3 rounds x 8 s): a few minutes.")
@click.option("--rounds", type=click.IntRange(min=1), help="Interleaved rounds [5; quick 3].")
@click.option("--duration", type=click.FloatRange(min=1), help="Measured seconds per round [30].")
@click.option("--warmup", type=click.FloatRange(min=0), help="Warm-up seconds per round [10].")
@click.option("--rate", type=click.FloatRange(min=0.1), help="Fixed req/s (skips the probe).")
@click.option(
    "--load-fraction",
    default=0.5,
    show_default=True,
    type=click.FloatRange(min=0.05, max=1.0),
    help="Offered load as a fraction of the probed untraced capacity.",
)
@click.option("--probe-seconds", type=click.FloatRange(min=1), help="Probe length per level.")
@click.option(
    "--configs",
    default=",".join(CONFIG_NAMES),
    show_default=True,
    help="Comma-separated configurations (tracing-off is always included).",
)
@click.option("--accounts", default=20, show_default=True, help="Open-loop accounts.")
@click.option("--seed", default=4242, show_default=True, help="Base seed of the request plans.")
@click.option("--env", "env", multiple=True, help="KEY=VALUE for every configuration's services.")
@click.option(
    "--variant",
    "variants",
    multiple=True,
    help="Extra configuration NAME:KEY=VALUE,... ({OTELCOL_OTLP_GRPC_PORT}-style port "
    "placeholders are filled in).",
)
@click.option(
    "--driver",
    type=click.Choice(["locust", "open-loop"]),
    default="locust",
    show_default=True,
    help="Load driver: the locustfile's users in Locust, paced to the rate (latency from each "
    "request's intended send time), or the open-loop generator's fixed schedule.",
)
@click.option(
    "--locustfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Measure the overhead of your own workload: this locustfile's users instead of "
    "loadtest/locustfile.py (its think time is replaced by the pacing).",
)
@click.option(
    "--users",
    type=click.IntRange(min=1),
    help="Locust users [rate x 1 s: each user sends once a second].",
)
@click.option("--out", "out_dir", default="results", show_default=True, type=click.Path())
@click.option("--run-dir", default=".run/bench", show_default=True, type=click.Path())
@click.option("--label", default=None, help="Name of the run (result folder prefix).")
@click.option("--keep-stack", is_flag=True, help="Leave the benchmark's stack running.")
@click.option(
    "--report-from",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Measure nothing: rebuild the report of a finished run with the current rules.",
)
def bench(
    quick: bool,
    rounds: int | None,
    duration: float | None,
    warmup: float | None,
    rate: float | None,
    load_fraction: float,
    probe_seconds: float | None,
    configs: str,
    accounts: int,
    seed: int,
    env: tuple[str, ...],
    variants: tuple[str, ...],
    out_dir: str,
    run_dir: str,
    label: str | None,
    keep_stack: bool,
    report_from: Path | None,
    driver: str,
    locustfile: Path | None,
    users: int | None,
) -> None:
    """Measure tracing overhead: tracing off vs unsampled vs 1%/10%/100% sampling."""
    if report_from is not None:
        _report_again(report_from)
        return
    preset = QUICK if quick else FULL
    root = repo_root()
    name = label or ("bench-quick" if quick else "bench")
    if locustfile is not None and driver != "locust":
        raise click.BadParameter("a locustfile needs --driver locust", param_hint="--locustfile")
    settings = BenchSettings(
        root=root,
        out_dir=root / out_dir,
        run_dir=root / run_dir,
        configs=[c.strip() for c in configs.split(",") if c.strip()],
        rounds=rounds or preset.rounds,
        duration_s=duration or preset.duration_s,
        warmup_s=preset.warmup_s if warmup is None else warmup,
        rate=rate,
        load_fraction=load_fraction,
        probe_s=probe_seconds or preset.probe_s,
        probe_concurrency=preset.probe_concurrency,
        accounts=accounts,
        seed=seed,
        extra_env=parse_env_options(env),
        variants=[_variant(v) for v in variants],
        label=name,
        driver=driver,
        locustfile=locustfile.resolve() if locustfile else None,
        users=users or 0,
    )
    result_dir = settings.out_dir / f"{name}-{timestamp()}"
    click.echo(f"results: {result_dir}")
    try:
        runner = BenchRunner(settings, echo=click.echo)
        run = runner.run(
            on_progress=lambda partial: write_outputs(partial, result_dir, final=False)
        )
    except (StackError, RuntimeError, ValueError) as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    document = write_outputs(run, result_dir, final=True)
    click.echo("")
    click.echo(report.console_summary(document))
    click.echo("")
    click.echo(f"report: {result_dir / 'report.md'}")
