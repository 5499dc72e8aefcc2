"""Reading the end of log files; keeping and rotating them across restarts."""

from __future__ import annotations

from tracelab.stack.logtail import format_tail, prepare_log, tail_lines


def test_tail_of_a_file_larger_than_one_read_chunk(tmp_path):
    log = tmp_path / "big.log"
    log.write_text("".join(f"line {i} " + "x" * 200 + "\n" for i in range(500)))
    lines = tail_lines(log, 3)
    assert [line.split()[1] for line in lines] == ["497", "498", "499"]


def test_short_files_missing_files_and_zero_counts(tmp_path):
    log = tmp_path / "short.log"
    log.write_text("one\ntwo")
    assert tail_lines(log, 10) == ["one", "two"]
    assert tail_lines(log, 0) == []
    assert tail_lines(tmp_path / "absent.log") == []


def test_invalid_utf8_is_replaced_not_fatal(tmp_path):
    log = tmp_path / "bin.log"
    log.write_bytes(b"ok\n\xff\xfe broken\n")
    assert tail_lines(log, 1) == ["\ufffd\ufffd broken"]


def test_format_tail_indents_each_line(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("first\nsecond\n")
    assert format_tail(log, 5) == "    first\n    second"
    assert format_tail(tmp_path / "none.log") == ""


def test_a_log_is_kept_across_restarts_and_rotated_past_its_bound(tmp_path):
    log = tmp_path / "auth.log"
    prepare_log(log, "auth")
    with log.open("ab") as handle:
        handle.write(b'{"message": "first run"}\n')
    prepare_log(log, "auth", max_bytes=10_000)
    text = log.read_text()
    assert "first run" in text and text.count("--- tracelab: auth starting at") == 2
    log.write_bytes(b"x" * 200)
    prepare_log(log, "auth", max_bytes=100)
    assert (tmp_path / "auth.log.1").read_bytes() == b"x" * 200
    assert log.read_text().startswith("--- tracelab: auth starting at")
    log.write_bytes(b"y" * 200)
    prepare_log(log, "auth", max_bytes=100)
    log.write_bytes(b"z" * 200)
    prepare_log(log, "auth", max_bytes=100)
    # Two older generations at most: the oldest is dropped.
    assert (tmp_path / "auth.log.2").read_bytes() == b"y" * 200
    assert (tmp_path / "auth.log.1").read_bytes() == b"z" * 200
    assert not (tmp_path / "auth.log.3").exists()
