from click.testing import CliRunner

from tests.bench.synthetic import synthetic_run
from tracelab.bench import report
from tracelab.bench.cli import bench, write_outputs
from tracelab.bench.reload import load_run, rejudge


def test_a_written_run_reads_back_identically(tmp_path):
    run = synthetic_run(rounds=3)
    write_outputs(run, tmp_path / "run", final=True)
    again = load_run(tmp_path / "run")
    assert again.rounds == run.rounds
    assert set(again.raw) == set(run.raw)
    assert again.raw["off/1"].latency_us == run.raw["off/1"].latency_us
    assert report.to_json(again)["overheads"] == report.to_json(run)["overheads"]


def test_rejudging_applies_the_current_rules(tmp_path):
    run = synthetic_run(rounds=3)
    run.rounds[0].foreign_core_fraction = 0.9  # busy machine, not judged at the time
    write_outputs(run, tmp_path / "run", final=True)
    again = rejudge(load_run(tmp_path / "run"))
    assert not again.rounds[0].valid
    assert "other processes" in again.rounds[0].invalid_reasons[0]
    assert all(m.valid for m in again.rounds[1:])


def test_report_from_writes_a_reanalysed_folder(tmp_path):
    write_outputs(synthetic_run(rounds=2), tmp_path / "run", final=True)
    result = CliRunner().invoke(bench, ["--report-from", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    out = tmp_path / "run-reanalysed"
    assert (out / "report.md").is_file() and (out / "overhead.png").is_file()
    assert "Overhead against tracing-off" in result.output
