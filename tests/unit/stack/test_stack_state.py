"""The state file and pid files of a run directory."""

from __future__ import annotations

import json

from tracelab.stack.state import (
    clear_state,
    load_state,
    save_state,
    state_path,
    write_pid_file,
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
