"""The game-day timeline: a pure function of the seed, within its bounds."""

from __future__ import annotations

import itertools

import pytest

from tracelab.workshop.catalogue import entry
from tracelab.workshop.timeline import Bounds, parse_range, timeline


@pytest.mark.parametrize("duration", [180.0, 45 * 60.0])
def test_the_same_seed_gives_the_same_timeline(duration):
    assert timeline(11, duration) == timeline(11, duration)
    assert timeline(11, duration) != timeline(12, duration)


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("duration", [180.0, 45 * 60.0])
def test_bounds_are_held(seed, duration):
    bounds = Bounds.for_duration(duration)
    events = timeline(seed, duration, bounds)
    assert events
    for event in events:
        assert 0 < event.on_s < event.off_s <= duration
        held = event.off_s - event.on_s
        assert held >= bounds.hold_min - 1e-9
        assert held <= bounds.hold_max + 1e-9
    # Never more than two at once, and two at once never share an owner.
    moments = sorted({e.on_s for e in events})
    for moment in moments:
        on = [e for e in events if e.on_s <= moment < e.off_s]
        assert len(on) <= 2
        for a, b in itertools.combinations(on, 2):
            assert not set(entry(a.scenario).services) & set(entry(b.scenario).services)
    # Phases are separated by gaps with nothing on, each within the bounds.
    phases = sorted({e.phase for e in events})
    assert phases == list(range(1, len(phases) + 1))
    ends = [max(e.off_s for e in events if e.phase == p) for p in phases]
    starts = [min(e.on_s for e in events if e.phase == p) for p in phases]
    assert bounds.gap_min <= starts[0] <= bounds.gap_max
    for end, start in zip(ends, starts[1:], strict=False):
        assert bounds.gap_min - 1e-9 <= start - end <= bounds.gap_max + 1e-9


def test_a_pool_limits_the_scenarios():
    events = timeline(3, 600, scenarios=["slow-query", "flaky-auth"])
    assert {e.scenario for e in events} <= {"slow-query", "flaky-auth"}


def test_an_unknown_scenario_is_an_error():
    with pytest.raises(ValueError, match="unknown scenario"):
        timeline(1, 600, scenarios=["slow-qeury"])


def test_ranges_parse():
    assert parse_range("20s-40s", "--hold") == (20.0, 40.0)
    assert parse_range("3m", "--hold") == (180.0, 180.0)
    with pytest.raises(ValueError):
        parse_range("soon", "--hold")
