"""The state file and pid files of a run directory."""

from __future__ import annotations

import json

from tracelab.stack.process import ProcessRef
from tracelab.stack.state import (
    Recorded,
    clear_state,
    load_state,
    read_state,
    save_state,
    state_path,
    write_pid_file,
    write_state,
)


def test_state_round_trips_and_keeps_key_order(tmp_path):
    state = {"urls": {"frontend": "a", "jaeger": "b", "otlp_http": "c"}, "ready": True}
    save_state(tmp_path, state)
    loaded = load_state(tmp_path)
    assert loaded is not None
    assert loaded["ready"] is True
    assert list(loaded["urls"]) == ["frontend", "jaeger", "otlp_http"]
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_corrupt_or_foreign_state_reads_as_none(tmp_path):
    assert load_state(tmp_path) is None
    state_path(tmp_path).write_text("{not json")
    assert load_state(tmp_path) is None
    state_path(tmp_path).write_text(json.dumps({"version": 999}))
    assert load_state(tmp_path) is None


def test_clear_state_removes_state_and_pid_files(tmp_path):
    save_state(tmp_path, {"components": {}})
    pid_file = write_pid_file(tmp_path, "jaeger", 1234)
    assert pid_file.read_text() == "1234\n"
    clear_state(tmp_path)
    assert not state_path(tmp_path).exists()
    assert not pid_file.exists()
    clear_state(tmp_path)  # idempotent


def test_typed_state_round_trips_the_file_form(tmp_path):
    data = {
        "root": "/repo",
        "run_dir": str(tmp_path),
        "signature": {"components": ["jaeger"], "extra_env": {}},
        "ports": {"jaeger_query": 16686},
        "urls": {"jaeger": "http://127.0.0.1:16686"},
        "dsn": None,
        "ready": True,
        "started_at": 1.5,
        "components": {
            "jaeger": {
                "pid": 42,
                "started": 7.0,
                "checks": [{"http": "http://127.0.0.1:13134/status"}],
                "url": "http://127.0.0.1:16686",
                "log": "/x/jaeger.log",
            }
        },
        "ready_seconds": 2.0,
    }
    save_state(tmp_path, data)
    state = read_state(tmp_path)
    assert state is not None and state.ready and state.ports == {"jaeger_query": 16686}
    assert state.components["jaeger"].ref == ProcessRef(42, 7.0)
    write_state(tmp_path, state)
    assert load_state(tmp_path) == {**data, "version": 1}


def test_typed_state_reads_a_sparse_file(tmp_path):
    save_state(tmp_path, {"components": {"jaeger": {"pid": 999999}}})
    state = read_state(tmp_path)
    assert state is not None and not state.ready and state.signature is None
    assert state.components["jaeger"] == Recorded(pid=999999)
    assert Recorded().ref is None
    assert read_state(tmp_path / "none") is None


def test_a_state_file_of_an_older_tracelab_still_names_its_live_process(tmp_path):
    """Before ``started``, the state file kept psutil's create_time (a Unix time)."""
    import psutil

    me = psutil.Process()
    save_state(
        tmp_path,
        {
            "components": {
                "jaeger": {"pid": me.pid, "create_time": me.create_time()},
                "otel-collector": {"pid": me.pid, "create_time": me.create_time() - 3600},
            }
        },
    )
    state = read_state(tmp_path)
    assert state is not None
    assert state.components["jaeger"].ref == ProcessRef.of(me.pid)
    assert state.components["jaeger"].ref.alive()
    # An hour off: another process that had this pid, not this one.
    assert not state.components["otel-collector"].ref.alive()
