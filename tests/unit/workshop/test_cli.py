"""The workshop commands without a stack: the game day's dry run and bad input."""

from __future__ import annotations

from click.testing import CliRunner

from tracelab.cli import cli
from tracelab.workshop.timeline import timeline


def test_a_dry_run_prints_the_seeded_timeline():
    result = CliRunner().invoke(cli, ["gameday", "--duration", "3m", "--seed", "25", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[2] for line in lines] == [e.scenario for e in timeline(25, 180)]


def test_a_bad_duration_or_range_is_a_usage_error():
    for args in (["--duration", "soon"], ["--hold", "40s-20s"], ["--gap", "0s"]):
        result = CliRunner().invoke(cli, ["gameday", "--seed", "1", "--dry-run", *args])
        assert result.exit_code == 2, (args, result.output)


def test_submit_refuses_a_cause_outside_the_catalogue():
    result = CliRunner().invoke(
        cli,
        [
            "exercise",
            "submit",
            "--learner",
            "a",
            "--service",
            "db",
            "--operation",
            "x",
            "--cause",
            "gremlins",
            "--trace",
            "0" * 32,
        ],
    )
    assert result.exit_code == 2 and "gremlins" in result.output
