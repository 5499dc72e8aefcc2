"""The runner's checks before anything starts, and its state handling (no servers)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracelab.stack import Stack
from tracelab.stack.__main__ import main as stack_cli
from tracelab.stack.errors import MissingBinaryError, PortInUseError, StackError
from tracelab.stack.paths import run_dir
from tracelab.stack.ports import find_free_ports
from tracelab.stack.process import start_time
from tracelab.stack.state import load_state, save_state


def _fake_root(tmp_path: Path, *, tools: bool) -> Path:
    root = tmp_path / "repo"
    (root / "infra").mkdir(parents=True)
    (root / "pyproject.toml").write_text("")
    if tools:
        bin_dir = root / ".tools" / "bin"
        bin_dir.mkdir(parents=True)
        for name in ("otelcol", "jaeger"):
            (bin_dir / name).write_text("#!/bin/sh\nexit 1\n")
            (bin_dir / name).chmod(0o755)
    return root


def test_missing_tools_say_run_make_tools(tmp_path):
    stack = Stack(_fake_root(tmp_path, tools=False), run_dir=tmp_path / "run")
    with pytest.raises(MissingBinaryError) as caught:
        stack.up(components=["otel-collector", "jaeger"], timeout=5)
    message = str(caught.value)
    assert message.endswith("not built: run `make tools`")
    assert ".tools/bin/otelcol" in message and ".tools/bin/jaeger" in message
    assert load_state(tmp_path / "run") is None


def test_a_missing_service_points_at_infra_only(tmp_path):
    stack = Stack(_fake_root(tmp_path, tools=True), run_dir=tmp_path / "run")
    with pytest.raises(StackError, match=r"service 'gateway' is missing .*--infra-only"):
        stack.up(components=["gateway"], timeout=5)


def test_unknown_components_are_refused(tmp_path):
    stack = Stack(_fake_root(tmp_path, tools=True), run_dir=tmp_path / "run")
    with pytest.raises(StackError, match="unknown component tempo"):
        stack.up(components=["tempo"])


def test_a_taken_port_fails_before_any_process_starts(tmp_path):
    ports = find_free_ports(6)
    env = {
        var: str(port)
        for var, port in zip(
            [
                "OTELCOL_OTLP_GRPC_PORT",
                "OTELCOL_OTLP_HTTP_PORT",
                "OTELCOL_SPANMETRICS_PORT",
                "OTELCOL_HEALTH_PORT",
                "OTELCOL_METRICS_PORT",
            ],
            ports,
            strict=False,
        )
    }
    stack = Stack(_fake_root(tmp_path, tools=True), run_dir=tmp_path / "run", env=env)
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", ports[3]))
        taken.listen()
        with pytest.raises(PortInUseError) as caught:
            stack.up(components=["otel-collector"], timeout=5)
    assert caught.value.conflicts == [
        (ports[3], "otel-collector health check", "OTELCOL_HEALTH_PORT")
    ]
    # The fake binaries would have failed: nothing was started, nothing recorded.
    assert not (tmp_path / "run" / "logs" / "otel-collector.log").exists()
    assert load_state(tmp_path / "run") is None


def test_down_without_a_stack_is_a_no_op_and_idempotent(tmp_path):
    stack = Stack(_fake_root(tmp_path, tools=True), run_dir=tmp_path / "run")
    assert stack.down() == []
    assert stack.down() == []
    assert stack.status() == []
    assert stack.info() is None
    assert not stack.is_ready()


def test_down_forgets_dead_components(tmp_path):
    run = tmp_path / "run"
    save_state(run, {"components": {"jaeger": {"pid": 999999, "started": 1.0}}})
    stack = Stack(_fake_root(tmp_path, tools=True), run_dir=run)
    [row] = stack.status()
    assert (row.name, row.alive, row.ready) == ("jaeger", False, False)
    assert not stack.is_ready()
    assert stack.down() == []
    assert load_state(run) is None


def test_run_dir_follows_tracelab_run_dir(tmp_path):
    root = tmp_path / "repo"
    assert run_dir(root, {}) == root / ".run"
    assert run_dir(root, {"TRACELAB_RUN_DIR": "elsewhere"}) == (root / "elsewhere").resolve()
    assert run_dir(root, {"TRACELAB_RUN_DIR": str(tmp_path / "abs")}) == tmp_path / "abs"
    stack = Stack(root, env={"TRACELAB_RUN_DIR": str(tmp_path / "abs")})
    assert stack.run_dir == tmp_path / "abs"


def test_cli_status_down_and_logs_on_an_empty_run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACELAB_RUN_DIR", str(tmp_path / "run"))
    runner = CliRunner()
    status = runner.invoke(stack_cli, ["status"])
    assert status.exit_code == 0
    assert "stack is not running" in status.output
    down = runner.invoke(stack_cli, ["down"])
    assert (down.exit_code, down.output.strip()) == (0, "nothing was running")
    logs = runner.invoke(stack_cli, ["logs", "jaeger"])
    assert logs.exit_code == 2
    assert "no log for 'jaeger'" in logs.output


def test_cli_prints_a_one_line_error_and_exits_1(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACELAB_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("OTELCOL_HEALTH_PORT", "not-a-port")
    result = CliRunner().invoke(stack_cli, ["up", "--infra-only", "--timeout", "5"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: OTELCOL_HEALTH_PORT='not-a-port' is not a TCP port (1-65535)"
    )


def test_a_typo_in_tracelab_scenarios_stops_up_before_anything_starts(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACELAB_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("TRACELAB_SCENARIOS", "slow-qurey")
    result = CliRunner().invoke(stack_cli, ["up", "--infra-only", "--timeout", "5"])
    assert result.exit_code == 1
    assert result.output.startswith(
        "error: TRACELAB_SCENARIOS names unknown scenario(s) 'slow-qurey'; known: slow-query, "
    )
    assert load_state(tmp_path / "run") is None


def test_a_bad_instrumentation_mode_stops_up_before_anything_starts(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACELAB_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("TRACELAB_INSTRUMENTATION", "zerocode")
    result = CliRunner().invoke(stack_cli, ["up", "--infra-only", "--timeout", "5"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: TRACELAB_INSTRUMENTATION='zerocode' is not one of programmatic, zero-code"
    )
    assert load_state(tmp_path / "run") is None


def test_cli_logs_prints_the_tail(tmp_path, monkeypatch):
    run = tmp_path / "run"
    (run / "logs").mkdir(parents=True)
    (run / "logs" / "jaeger.log").write_text("".join(f"line {i}\n" for i in range(100)))
    monkeypatch.setenv("TRACELAB_RUN_DIR", str(run))
    result = CliRunner().invoke(stack_cli, ["logs", "jaeger", "-n", "2"])
    assert result.exit_code == 0
    assert result.output == "line 98\nline 99\n"
    everything = CliRunner().invoke(stack_cli, ["logs", "-n", "1"])
    assert f"==> {run / 'logs' / 'jaeger.log'} <==\nline 99\n" in everything.output


@pytest.fixture
def state_reads(monkeypatch):
    """How many times ``.run/state.json`` was read from disk."""
    reads = []
    read_text = Path.read_text

    def counting(self, *args, **kwargs):
        if self.name == "state.json":
            reads.append(self)
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting)
    return reads


def test_up_reads_the_state_once_before_failing_on_a_missing_tool(tmp_path, state_reads):
    run = tmp_path / "run"
    save_state(
        run,
        {
            "ready": True,
            "signature": {"components": ["jaeger"]},
            "components": {"jaeger": {"pid": 999999, "started": 1.0}},
        },
    )
    stack = Stack(_fake_root(tmp_path, tools=False), run_dir=run)
    with pytest.raises(MissingBinaryError):
        stack.up(components=["otel-collector", "jaeger"], timeout=5)
    assert len(state_reads) == 1
    assert load_state(run) is None  # the old stack was forgotten


def test_up_on_a_healthy_stack_reads_the_state_once(tmp_path, state_reads):
    """A recorded stack of one live process (this test) answering its check."""
    import psutil

    stack = Stack(_fake_root(tmp_path, tools=True), run_dir=tmp_path / "run")
    wanted = ("otel-collector",)
    me = psutil.Process()
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        save_state(
            stack.run_dir,
            {
                "ready": True,
                "signature": stack._signature(wanted, {}),
                "components": {
                    "otel-collector": {
                        "pid": me.pid,
                        "started": start_time(me.pid),
                        "checks": [{"tcp": f"127.0.0.1:{port}"}],
                    }
                },
            },
        )
        info = stack.up(components=wanted, timeout=5)
        assert info.already_running
        assert len(state_reads) == 1
        assert stack.is_ready()
        assert len(state_reads) == 2


def test_down_stops_the_recorded_processes_and_names_them_in_stop_order(tmp_path):
    """Stand-ins (``sleep``) for every component but PostgreSQL, recorded as a stack."""

    from tracelab.stack import config as cfg
    from tracelab.stack.process import spawn

    run = tmp_path / "run"
    names = [name for name in cfg.ALL_COMPONENTS if name != cfg.POSTGRES]
    procs = {
        name: spawn(["sleep", "60"], env={}, cwd=tmp_path, log_path=tmp_path / f"{name}.log")
        for name in names
    }
    save_state(
        run,
        {
            "components": {
                name: {"pid": proc.pid, "started": start_time(proc.pid)}
                for name, proc in procs.items()
            }
        },
    )
    stack = Stack(_fake_root(tmp_path, tools=True), run_dir=run)
    assert stack.down(timeout=5) == [
        "console",
        "db",
        "auth",
        "user",
        "gateway",
        "frontend",
        "otel-collector",
        "jaeger",
    ]
    assert all(proc.wait(timeout=5) is not None for proc in procs.values())
    assert load_state(run) is None
