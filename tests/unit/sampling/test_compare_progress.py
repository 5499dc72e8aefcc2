"""``tracelab sampling compare`` reports phase n/N, elapsed and what is left (no stack)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tracelab.progress import format_duration
from tracelab.sampling import compare as compare_mod
from tracelab.sampling.compare import Load, phase_weights
from tracelab.sampling.strategies import strategies
from tracelab.scenarios.traffic import Answer


@dataclass
class FakeStack:
    """Stands in for the stack runner: records downs and ups."""

    root: Path
    env: dict = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    running: bool = False

    def is_ready(self) -> bool:
        return self.running

    def down(self) -> None:
        self.calls.append("down")

    def up(self, timeout: float, extra_env=None):
        self.calls.append("up")
        urls = dict.fromkeys(("span_metrics", "collector_metrics", "jaeger"), "http://x")
        return type("Info", (), {"urls": urls, "log_dir": None, "admin_token": "t"})()


class FakeTraffic:
    def __init__(self, _frontend) -> None:
        pass

    def burst(self, journey: str, total: int, _concurrency: int) -> list[Answer]:
        return [Answer(journey, 200, f"{i:032x}", 10.0) for i in range(total)]

    def close(self) -> None:
        pass


class FakeAdmin:
    def __init__(self, *_args) -> None:
        pass

    def switch(self, *_args) -> None:
        pass

    def all_off(self) -> None:
        pass

    def close(self) -> None:
        pass


class FakeJaeger:
    def __init__(self, _url) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        pass

    def get_trace(self, _trace_id):
        return {}


def _fakes(monkeypatch, running: bool = False) -> None:
    monkeypatch.setattr(
        compare_mod, "Stack", lambda root, env: FakeStack(root, env, running=running)
    )
    targets = type("T", (), {"services": {}, "token": "t", "frontend": "http://f"})()
    monkeypatch.setattr(compare_mod.Targets, "from_urls", staticmethod(lambda *a, **k: targets))
    monkeypatch.setattr(compare_mod, "ScenarioAdmin", FakeAdmin)
    monkeypatch.setattr(compare_mod, "Traffic", FakeTraffic)
    monkeypatch.setattr(compare_mod, "JaegerClient", FakeJaeger)
    for name, value in {
        "settled": lambda *a, **k: "",
        "scrape": lambda *a, **k: "",
        "exported_spans": lambda _text: 0.0,
        "red": lambda _text: {"calls": 0.0, "errors": 0.0},
    }.items():
        monkeypatch.setattr(compare_mod.metrics, name, value)


def test_each_strategy_reports_four_phases_then_the_stack_is_stopped(monkeypatch, tmp_path):
    _fakes(monkeypatch)
    lines: list[str] = []
    chosen = [s for s in strategies(0.1, 5.0, 500, 10.0) if s.name in ("head", "tail")]
    load = Load(requests=20, concurrency=2, drain_s=0.0)
    results = compare_mod.compare(tmp_path, {}, chosen, load, lines.append)
    assert [r.kept for r in results] == [20, 20]
    started = [line for line in lines if " done, " not in line]
    assert [line.partition(" elapsed")[0].partition(",")[0] for line in started] == [
        f"[sampling {n}/9" for n in range(1, 10)
    ]
    assert [line.partition("] ")[2] for line in started] == [
        "head: restart the stack with this strategy",
        "head: 20 dashboards, 2 at a time, faults on",
        "head: faults off, drain the pipeline",
        "head: ask Jaeger for the 20 traces",
        "tail: restart the stack with this strategy",
        "tail: 20 dashboards, 2 at a time, faults on",
        "tail: faults off, drain the pipeline",
        "tail: ask Jaeger for the 20 traces",
        "stop the stack",
    ]
    assert "left]" in started[0] and lines[-1].startswith("[sampling 9/9 done, ")


def test_the_first_estimate_is_the_weights_of_every_phase(monkeypatch, tmp_path):
    _fakes(monkeypatch, running=True)
    lines: list[str] = []
    (head,) = [s for s in strategies(0.1, 5.0, 500, 10.0) if s.name == "head"]
    load = Load(requests=300, concurrency=4, drain_s=0.0)
    compare_mod.compare(tmp_path, {}, [head], load, lines.append)
    expected = round(sum(phase_weights(load)) + compare_mod.RESTART_S)
    assert lines[0].endswith("left] head: restart the stack with this strategy")

    assert f"about {format_duration(expected)} left]" in lines[0]
    assert lines[-2].endswith("restart the stack in its default mode")
