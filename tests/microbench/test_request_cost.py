"""``make bench-service`` once, small: one service, tracing off and at 100%, under callgrind.

The figures come from ``make bench-service``; this keeps the measurement
working end to end (callgrind, the service's real app and telemetry, the
sink and the stub) and checks what it must always find: a sampled request
costs instructions that an untraced one does not.
"""

from __future__ import annotations

import json
import shutil

from tests.microbench import request_cost


def test_one_service_counted_off_and_at_full_sampling(tmp_path, capsys):
    assert shutil.which("valgrind"), "valgrind is missing: apt-get install valgrind"
    out = tmp_path / "request_cost.json"
    argv = ["--services", "user", "--configs", "off,ratio-100pct"]
    assert request_cost.main([*argv, "--requests", "10", "--warmup", "3", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    counts = report["results"]["user"]
    assert report["requests"] == 10
    # A user request is about 1.8 M instructions untraced; spans add hundreds of thousands.
    assert 500_000 < counts["off"] < 20_000_000
    assert counts["ratio-100pct"] > counts["off"] * 1.05
    assert "ratio-100pct" in capsys.readouterr().out
