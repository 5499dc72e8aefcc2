"""The ``tracelab`` command line: stack, console, shapes, scenarios, workshops, doctor...

Each subcommand is imported when it runs, not when the command line
starts: the benchmark's commands pull in matplotlib and scipy, which made
every ``tracelab`` command, ``doctor`` included, take 3-4 s of CPU before
doing anything. ``tracelab --help`` imports them all to list them.
"""

from __future__ import annotations

import importlib

import click

# Subcommand name -> "module:attribute" of its click command, in help order.
SUBCOMMANDS: dict[str, str] = {
    "tools": "tracelab.stack.cli:tools",
    "up": "tracelab.stack.cli:up",
    "down": "tracelab.stack.cli:down",
    "status": "tracelab.stack.cli:status",
    "logs": "tracelab.stack.cli:logs",
    "console": "tracelab.console.cli:console",
    "verify": "tracelab.shapes.cli:verify",
    "analyze": "tracelab.analysis.cli:analyze",
    "compare": "tracelab.analysis.cli:compare",
    "critical-path": "tracelab.analysis.cli:critical_path",
    "service-map": "tracelab.analysis.cli:service_map_command",
    "scenario": "tracelab.scenarios.cli:scenario",
    "sampling": "tracelab.sampling.cli:sampling",
    "bench": "tracelab.bench.cli:bench",
    "bench-exact": "tracelab.bench.exact.cli:bench_exact",
    "exercise": "tracelab.workshop.cli:exercise",
    "gameday": "tracelab.workshop.cli:gameday",
    "doctor": "tracelab.doctor.cli:doctor",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use (see the module docstring)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every subcommand, in :data:`SUBCOMMANDS` order."""
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The subcommand ``cmd_name`` (imported now), or None for an unknown name."""
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        if command.name != cmd_name:
            raise RuntimeError(f"{target} is the command {command.name!r}, not {cmd_name!r}")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """tracelab: a small, fully tested distributed-tracing lab."""


def main() -> None:
    """Entry point of the ``tracelab`` console script."""
    cli()


if __name__ == "__main__":
    main()
