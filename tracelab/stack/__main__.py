"""``python -m tracelab.stack``: the stack commands alone (what the Makefile runs).

The same commands are part of the ``tracelab`` CLI; this entry point does not
import the rest of tracelab, so the stack runs even while other parts change.
"""

from __future__ import annotations

import click

from tracelab.stack.cli import down, logs, status, tools, up


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Build the tools and run the local tracelab stack."""


for _command in (tools, up, down, status, logs):
    main.add_command(_command)

if __name__ == "__main__":
    main()
