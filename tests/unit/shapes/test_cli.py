"""``tracelab verify`` end to end against a real local HTTP server."""

from __future__ import annotations

import copy

import pytest
from click.testing import CliRunner

from tests.unit.shapes import samples
from tests.unit.shapes.fake_backend import serve
from tracelab.shapes.cli import verify

SHAPE = """\
description: the sample trace of tests/unit/shapes/samples.py
single_trace: true
root:
  service: frontend
  name: GET /api/dashboard
  kind: server
  status: unset
  children:
    - service: frontend
      name: GET
      kind: client
      status: error
      children:
        - service: auth
          name: auth.token_verify
          status: error
          events: [exception]
"""


@pytest.fixture
def backend():
    with serve() as running:
        yield running


@pytest.fixture
def shape_file(tmp_path):
    path = tmp_path / "sample.yaml"
    path.write_text(SHAPE)
    return path


def run(*args: str):
    return CliRunner().invoke(verify, list(args))


def test_match_exits_0(backend, shape_file):
    backend.answer(f"/api/v3/traces/{samples.TRACE_ID}", (200, samples.otlp_hex()))
    result = run(
        str(shape_file), "--backend", "jaeger", "--trace-id", samples.TRACE_ID, "--url", backend.url
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"MATCH: trace {samples.TRACE_ID} vs shape 'sample'")
    assert "auth 'auth.token_verify' [internal] error" in result.stdout


def test_tempo_partial_trace_is_refetched_until_it_matches(backend, shape_file):
    partial = copy.deepcopy(samples.tempo_v2())
    del partial["trace"]["resourceSpans"][1]  # auth's batch has not arrived yet
    backend.answer(f"/api/v2/traces/{samples.TRACE_ID}", (200, partial), (200, samples.tempo_v2()))
    result = run(
        str(shape_file), "--backend", "tempo", "--trace-id", samples.TRACE_ID, "--url", backend.url
    )
    assert result.exit_code == 0, result.output
    assert backend.hits(f"/api/v2/traces/{samples.TRACE_ID}") == 2


def test_mismatch_exits_1_with_the_diff(backend, tmp_path):
    shape_file = tmp_path / "wrong.yaml"
    shape_file.write_text(SHAPE.replace("status: unset", "status: ok"))
    backend.answer(f"/api/v3/traces/{samples.TRACE_ID}", (200, samples.otlp_hex()))
    result = run(
        str(shape_file),
        "--trace-id",
        samples.TRACE_ID,
        "--url",
        backend.url,
        "--timeout",
        "0.3",
    )
    assert result.exit_code == 1
    out = result.stdout
    assert out.startswith(f"MISMATCH: trace {samples.TRACE_ID} vs shape 'wrong'")
    assert "1. frontend 'GET /api/dashboard' [root]: status: expected ok, found unset" in out
    assert "expected:\n  frontend 'GET /api/dashboard' [server] status=ok" in out
    assert "!! frontend 'GET /api/dashboard' [server] unset" in out
    # Re-fetched until the time was up, in case the trace was still arriving.
    assert backend.hits(f"/api/v3/traces/{samples.TRACE_ID}") > 1


def test_trace_not_found_exits_2_with_one_line(backend, shape_file):
    result = run(str(shape_file), "--trace-id", "ab" * 16, "--url", backend.url, "--timeout", "0.1")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: jaeger ({backend.url}): trace {'ab' * 16} not found")


def test_bad_shape_file_exits_2_naming_file_and_key(backend, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("root:\n  kind: sever\n")
    result = run(str(bad), "--trace-id", samples.TRACE_ID, "--url", backend.url)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {bad}: root.kind: expected one of server, client, internal, producer, consumer,"
        " got 'sever'"
    )
    assert backend.requests == []


def test_missing_shape_file_and_bad_trace_id_exit_2(tmp_path, shape_file):
    missing = run(str(tmp_path / "none.yaml"), "--trace-id", samples.TRACE_ID)
    assert missing.exit_code == 2 and "none.yaml: cannot read" in missing.stderr
    bad_id = run(str(shape_file), "--trace-id", "xyz")
    assert bad_id.exit_code == 2 and "trace id 'xyz'" in bad_id.stderr


def test_help_documents_defaults():
    result = run("--help")
    assert result.exit_code == 0
    assert "http://127.0.0.1:16686" in result.stdout and "http://127.0.0.1:3200" in result.stdout
