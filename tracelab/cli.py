"""The ``tracelab`` command line: local stack, trace-shape verification."""

from __future__ import annotations

import click

from tracelab.shapes.cli import verify
from tracelab.stack.cli import down, logs, status, tools, up


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """tracelab: a small, fully tested distributed-tracing lab."""


for command in (tools, up, down, status, logs, verify):
    cli.add_command(command)


def main() -> None:
    """Entry point of the ``tracelab`` console script."""
    cli()


if __name__ == "__main__":
    main()
