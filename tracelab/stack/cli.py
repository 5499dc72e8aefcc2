"""``tracelab tools|up|down|status|logs``: the local stack from the command line."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from tracelab.stack import config as cfg
from tracelab.stack.errors import ComponentFailedError, StackError
from tracelab.stack.logtail import tail_lines
from tracelab.stack.paths import repo_root
from tracelab.stack.runner import Stack, StackInfo
from tracelab.stack.tools import ALL_TOOL_NAMES, build_tools

T = TypeVar("T")


def _run(action: Callable[[], T]) -> T:
    """Run ``action``; a StackError becomes ``error: ...`` (plus a log tail) and exit 1."""
    try:
        return action()
    except StackError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        if isinstance(exc, ComponentFailedError) and exc.tail:
            click.echo(f"last lines of {exc.log_path}:", err=True)
            click.echo(exc.tail, err=True)
        sys.exit(1)


def print_urls(info: StackInfo) -> None:
    """Print every URL of ``info`` as an aligned two-column list."""
    labels = {key: cfg.URL_LABELS.get(key, key) for key in info.urls}
    width = max(map(len, labels.values()), default=0)
    for key, url in info.urls.items():
        click.echo(f"  {labels[key]:<{width}}  {url}")


@click.command()
@click.option("--force", is_flag=True, help="Rebuild even when the stamp says up to date.")
@click.option(
    "--only", "only", multiple=True, type=click.Choice(ALL_TOOL_NAMES), help="Build only this tool."
)
def tools(force: bool, only: tuple[str, ...]) -> None:
    """Build the collector and Jaeger (or --only TOOL) into .tools/bin, cached by input hash."""
    started = time.monotonic()
    results = _run(
        lambda: build_tools(repo_root(), only=only or None, force=force, echo=click.echo)
    )
    for result in results:
        if result.built:
            split = ", ".join(f"{phase} {s:.0f}s" for phase, s in result.phases.items())
            click.echo(f"{result.name}: built in {result.seconds:.1f}s ({split}): {result.binary}")
        else:
            click.echo(f"{result.name}: up to date ({result.binary})")
    click.echo(f"tools ready in {time.monotonic() - started:.1f}s")


@click.command()
@click.option("--timeout", default=90.0, show_default=True, help="Seconds to wait for readiness.")
@click.option("--infra-only", is_flag=True, help="Only PostgreSQL, the collector and Jaeger.")
def up(timeout: float, infra_only: bool) -> None:
    """Start the local stack and wait until every component is ready."""
    stack = Stack(echo=click.echo)
    components = cfg.INFRA if infra_only else None
    info = _run(lambda: stack.up(timeout=timeout, components=components))
    if info.already_running:
        click.echo(f"stack already running and healthy (run dir {info.run_dir})")
    else:
        click.echo(f"stack ready in {info.elapsed:.1f}s (run dir {info.run_dir})")
    print_urls(info)
    if info.admin_token:
        click.echo(f"  admin token (the services' admin API): {info.admin_token}")
    if cfg.JAEGER in info.components:
        click.echo(
            "  (Jaeger built from source serves no UI, only its APIs: the console is the UI)"
        )


@click.command()
@click.option("--timeout", default=10.0, show_default=True, help="Seconds before SIGKILL.")
def down(timeout: float) -> None:
    """Stop every component of the local stack (idempotent)."""
    stack = Stack(echo=click.echo)
    stopped = _run(lambda: stack.down(timeout=timeout))
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@click.command()
def status() -> None:
    """Show each component: pid, alive, ready, URL."""
    stack = Stack()
    rows = _run(stack.status)
    if not rows:
        click.echo(f"stack is not running (no {stack.run_dir / 'state.json'})")
        return
    headers = ("component", "pid", "alive", "ready", "url")
    table = [
        (row.name, str(row.pid or "-"), _yes(row.alive), _yes(row.ready), row.url) for row in rows
    ]
    widths = [max(len(line[i]) for line in [headers, *table]) for i in range(len(headers))]
    for line in [headers, *table]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    if not all(row.alive and row.ready for row in rows):
        sys.exit(1)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


@click.command()
@click.argument("component", required=False)
@click.option("-n", "--lines", default=40, show_default=True, help="Lines per log.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (one component).")
def logs(component: str | None, lines: int, follow: bool) -> None:
    """Show the last lines of a component's log (all logs without COMPONENT)."""
    stack = Stack()
    log_dir = stack.run_dir / "logs"
    if component is None:
        paths = sorted(log_dir.glob("*.log"))
        if not paths:
            click.echo(f"no logs in {log_dir}")
            return
        if follow:
            raise click.UsageError("--follow needs a COMPONENT")
        for path in paths:
            click.secho(f"==> {path} <==", bold=True)
            for line in tail_lines(path, lines):
                click.echo(line)
        return
    path = stack.log_path(component)
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted(log_dir.glob("*.log"))) or "none yet"
        raise click.UsageError(f"no log for {component!r} ({path}); logs: {known}")
    for line in tail_lines(path, lines):
        click.echo(line)
    if follow:
        _follow(path)


def _follow(path: Path) -> None:
    """Print lines appended to ``path`` until interrupted."""
    with path.open("r", errors="replace") as handle:
        handle.seek(0, 2)
        try:
            while True:
                line = handle.readline()
                if line:
                    click.echo(line, nl=False)
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            return
