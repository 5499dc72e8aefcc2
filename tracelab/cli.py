"""The ``tracelab`` command line: stack, console, shapes, scenarios, workshops, doctor..."""

from __future__ import annotations

import click

from tracelab.analysis.cli import analyze, compare, critical_path, service_map_command
from tracelab.bench.cli import bench
from tracelab.bench.exact.cli import bench_exact
from tracelab.console.cli import console
from tracelab.doctor.cli import doctor
from tracelab.sampling.cli import sampling
from tracelab.scenarios.cli import scenario
from tracelab.shapes.cli import verify
from tracelab.stack.cli import down, logs, status, tools, up
from tracelab.workshop.cli import exercise, gameday


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """tracelab: a small, fully tested distributed-tracing lab."""


COMMANDS = (tools, up, down, status, logs, console, verify, analyze, compare, critical_path)
ANALYSES = (service_map_command,)
for command in (
    *COMMANDS,
    *ANALYSES,
    scenario,
    sampling,
    bench,
    bench_exact,
    exercise,
    gameday,
    doctor,
):
    cli.add_command(command)


def main() -> None:
    """Entry point of the ``tracelab`` console script."""
    cli()


if __name__ == "__main__":
    main()
