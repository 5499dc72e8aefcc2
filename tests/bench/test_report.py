import json

import numpy as np

from tests.bench.synthetic import round_of, synthetic_run
from tracelab.bench import plots, report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_json_document_has_every_configuration_and_strict_values(tmp_path):
    run = synthetic_run()
    run.rounds.append(round_of("off", 6, cpu=float("nan"), mean_ms=10.0, invalid=["broken"]))
    document = report.write_json(run, tmp_path / "bench.json")
    text = (tmp_path / "bench.json").read_text()
    assert "NaN" not in text
    assert json.loads(text) == document
    assert document["schema"] == report.SCHEMA
    assert set(document["summary"]) == {"off", "ratio-1pct", "ratio-100pct"}
    assert set(document["overheads"]) == {"ratio-1pct", "ratio-100pct"}
    cpu = document["overheads"]["ratio-100pct"]["service_cpu_s_per_1k"]["relative_percent"]
    assert cpu["n"] == 5 and cpu["low"] < cpu["mean"] < cpu["high"]
    assert document["summary"]["off"]["rounds"] == 6
    assert document["summary"]["off"]["valid_rounds"] == 5
    assert document["invalid_rounds"] == [{"config": "off", "round": 6, "reasons": ["broken"]}]
    assert [t["status"] for t in document["targets"]] == [
        "met",
        "met",
        "missed",
        "missed",
        "missed",
    ]
    assert document["per_span_us"]["ratio-100pct"]["vs_off"]["mean"] > 0
    assert len(document["rounds"]) == 16


def test_markdown_and_console_report_name_every_configuration(tmp_path):
    run = synthetic_run()
    document = report.write_json(run, tmp_path / "bench.json")
    md = report.markdown_report(document, ["overhead.png"])
    console = report.console_summary(document)
    for text in (md, console):
        for name in ("off", "ratio-1pct", "ratio-100pct"):
            assert name in text
        assert "+1.00% ±0.00" in text  # 1%: exactly +1% CPU in every round
    assert "| config | pairs | CPU/req |" in md
    assert "![overhead](overhead.png)" in md
    assert "test CPU, 2 logical CPUs" in md


def test_plots_are_png_files(tmp_path):
    run = synthetic_run()
    document = report.write_json(run, tmp_path / "bench.json")
    paths = plots.write_plots(run, document, tmp_path)
    assert [p.name for p in paths] == ["overhead.png", "latency.png", "rounds.png"]
    for path in paths:
        assert path.read_bytes()[:8] == PNG_MAGIC
        assert path.stat().st_size > 5000


def test_raw_timings_are_kept_in_microseconds(tmp_path):
    run = synthetic_run(rounds=2)
    report.write_raw(run, tmp_path / "raw.npz")
    with np.load(tmp_path / "raw.npz") as raw:
        assert "ratio-100pct__r2__latency_us" in raw.files
        assert raw["off__r1__latency_us"].dtype == np.int64
        assert list(raw["off__r1__latency_us"][:2]) == [5000, 5100]
        assert len(raw.files) == 3 * 2 * 7


def test_interval_formatting():
    assert report.fmt_interval({"n": 5, "mean": 1.234, "half_width": 0.5}, "%") == "+1.23% ±0.50"
    assert report.fmt_interval({"n": 1, "mean": -2.0, "half_width": None}) == "-2.00 (n=1)"
    assert report.fmt_interval({"n": 0, "mean": None, "half_width": None}) == "n/a"


def test_per_span_verdict_uses_the_whole_interval():
    assert report.per_span_status({"mean": 20.0, "half_width": 5.0}, 30.0) == "met"
    assert report.per_span_status({"mean": -41.9, "half_width": 363.6}, 30.0) == "within-mean"
    assert report.per_span_status({"mean": 94.0, "half_width": 46.0}, 30.0) == "missed"
    assert report.per_span_status({"mean": None, "half_width": None}, 30.0) == "n/a"
