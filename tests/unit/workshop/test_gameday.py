"""The game-day runner: switches on its timeline, every fault off however it ends, the report."""

from __future__ import annotations

import pytest

from services.common.scenarios import N_PLUS_ONE, SLOW_QUERY
from tracelab.workshop.gameday import GameDay, markdown
from tracelab.workshop.session import pick, start_exercise, status, stop_exercise
from tracelab.workshop.store import Store
from tracelab.workshop.timeline import Bounds

FAST = Bounds(0.3, 0.4, 0.1, 0.2)


class Admin:
    """The admin client's two calls, recorded (no service runs in the unit tier)."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.on: set[str] = set()
        self.calls: list[tuple[str, bool]] = []
        self.fail_on = fail_on

    def switch(self, name, on, params=None):
        self.calls.append((name, on))
        if on and name == self.fail_on:
            raise RuntimeError(f"{name} refused")
        (self.on.add if on else self.on.discard)(name)
        return ["db"]


def game(tmp_path, admin, **kw) -> GameDay:
    lines: list[str] = []
    day = GameDay(
        Store(tmp_path), admin, 5, 2.0, bounds=FAST, echo=lines.append, progress_every_s=0.5, **kw
    )
    day.lines = lines
    return day


def test_a_game_follows_its_timeline_and_ends_with_everything_off(tmp_path):
    admin = Admin()
    day = game(tmp_path, admin)
    report = day.run()
    assert admin.on == set()
    switched_on = [name for name, on in admin.calls if on]
    assert switched_on == [e.scenario for e in sorted(day.events, key=lambda e: e.on_s)]
    assert [f["scenario"] for f in report["faults"]] == switched_on
    for fault, event in zip(
        report["faults"], sorted(day.events, key=lambda e: e.on_s), strict=True
    ):
        assert fault["on_s"] == pytest.approx(event.on_s, abs=0.3)
        assert fault["off_s"] == pytest.approx(event.off_s, abs=0.3)
    assert report["outcome"] == "finished"
    assert (tmp_path / report["session"] / "report.md").read_text() == markdown(report)
    assert any("elapsed" in line and "left" in line and "[phase" in line for line in day.lines)
    # The names stay hidden from the room unless asked for.
    assert not any(e.scenario in line for e in day.events for line in day.lines[1:-1])


def test_ctrl_c_switches_every_fault_off_and_still_reports(tmp_path, monkeypatch):
    admin = Admin()
    day = game(tmp_path, admin)
    first_on = min(day.events, key=lambda e: e.on_s)
    original = day._switch

    def interrupt_after_first(session, action):
        original(session, action)
        if action.on:
            raise KeyboardInterrupt

    monkeypatch.setattr(day, "_switch", interrupt_after_first)
    report = day.run()
    assert admin.on == set()
    assert report["outcome"] == "interrupted"
    assert report["faults"][0]["scenario"] == first_on.scenario


def test_an_error_switches_every_fault_off(tmp_path):
    admin = Admin()
    day = game(tmp_path, admin)
    # Refuse the first scenario switched on after another one was: a fault already on stays on.
    ordered = [e.scenario for e in sorted(day.events, key=lambda e: e.on_s)]
    later = [name for name in ordered if name != ordered[0]]
    assert later, "the timeline switches only one scenario: pick a seed with two"
    admin.fail_on = later[0]
    with pytest.raises(RuntimeError, match="refused"):
        day.run()
    assert admin.on == set()
    # Every scenario of the timeline is switched off at the end, on or not (the admin may not know).
    last = admin.calls[-len(set(ordered)) :]
    assert {name for name, on in last if not on} == set(ordered)
    assert Store(tmp_path).current() is None


def test_an_exercise_picks_by_seed_and_reveals_only_once_stopped(tmp_path):
    store, admin = Store(tmp_path), Admin()
    session = start_exercise(store, admin, seed=4, pool=[SLOW_QUERY.name, N_PLUS_ONE.name])
    assert session.plan["scenario"] == pick(4, [N_PLUS_ONE.name, SLOW_QUERY.name])
    assert admin.on == {session.plan["scenario"]}
    assert "answer" not in status(store)
    stop_exercise(store, admin)
    assert admin.on == set()
    assert status(store)["answer"]["plan"]["scenario"] == session.plan["scenario"]
