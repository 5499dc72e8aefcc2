"""The ``tracelab`` command line: every subcommand is there, each imported only when it runs."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from tracelab.cli import SUBCOMMANDS, cli


def test_every_subcommand_resolves_to_the_command_of_its_name():
    context = cli.make_context("tracelab", [], resilient_parsing=True)
    for name in SUBCOMMANDS:
        command = cli.get_command(context, name)
        assert command is not None and command.name == name
    assert cli.get_command(context, "no-such-command") is None


def test_help_lists_every_subcommand_and_an_unknown_one_is_a_usage_error():
    runner = CliRunner()
    listed = runner.invoke(cli, ["--help"])
    assert listed.exit_code == 0
    for name in SUBCOMMANDS:
        assert f"  {name} " in listed.output, name
    unknown = runner.invoke(cli, ["no-such-command"])
    assert unknown.exit_code == 2 and "No such command 'no-such-command'" in unknown.output


def test_doctor_starts_without_the_benchmarks_plotting_and_statistics():
    probe = (
        "import sys\n"
        "from tracelab.cli import main\n"
        "sys.argv = ['tracelab', 'doctor', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('matplotlib', 'scipy', 'numpy') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert "Usage:" in result.stdout
    assert "HEAVY []" in result.stdout, result.stdout
