"""A game day's timeline: which faults go on and off when, a pure function of the seed.

The game is a row of phases separated by gaps with nothing on. A phase
switches on one scenario, or two (the second a little later), each for its
own random hold; two scenarios of one phase never share an owning service,
so each leaves its own signature. Every hold and gap stays in its bounds and
every fault is off before the game ends.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tracelab.shapes.query import parse_duration_ms
from tracelab.workshop.catalogue import entry, names


@dataclass(frozen=True)
class Bounds:
    """Seconds: how long a fault stays on, how long the gaps between phases last."""

    hold_min: float
    hold_max: float
    gap_min: float
    gap_max: float

    def __post_init__(self) -> None:
        if not 0 < self.hold_min <= self.hold_max:
            raise ValueError("holds need 0 < minimum <= maximum")
        if not 0 < self.gap_min <= self.gap_max:
            raise ValueError("gaps need 0 < minimum <= maximum")

    @classmethod
    def for_duration(cls, duration_s: float) -> Bounds:
        """Bounds that fit a game of ``duration_s``: holds of 1/15-1/6 of it, gaps of 1/45-1/15.

        With floors, so a short game still holds a fault long enough to fire a
        journey and read its trace (at least 20 s on, 5 s off).
        """
        hold_min = max(20.0, duration_s / 15)
        gap_min = max(5.0, duration_s / 45)
        return cls(
            hold_min,
            max(hold_min, duration_s / 6),
            gap_min,
            max(gap_min, duration_s / 15),
        )


@dataclass(frozen=True)
class Event:
    """One fault on from ``on_s`` to ``off_s`` (seconds from the start of the game)."""

    scenario: str
    on_s: float
    off_s: float
    phase: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "scenario": self.scenario,
            "on_s": round(self.on_s, 3),
            "off_s": round(self.off_s, 3),
            "phase": self.phase,
        }


def _compatible(first: str, second: str) -> bool:
    return not set(entry(first).services) & set(entry(second).services)


def timeline(
    seed: int,
    duration_s: float,
    bounds: Bounds | None = None,
    scenarios: Sequence[str] | None = None,
    max_at_once: int = 2,
) -> list[Event]:
    """The seeded timeline of a game of ``duration_s`` seconds (see the module docstring)."""
    bounds = bounds or Bounds.for_duration(duration_s)
    pool = list(scenarios or names())
    for name in pool:
        entry(name)  # an unknown name is an error, not a silent "off"
    rng = random.Random(seed)
    events: list[Event] = []
    t = rng.uniform(bounds.gap_min, bounds.gap_max)
    phase = 0
    while t + bounds.hold_min <= duration_s:
        phase += 1
        first = rng.choice(pool)
        hold = min(rng.uniform(bounds.hold_min, bounds.hold_max), duration_s - t)
        phase_events = [Event(first, t, t + hold, phase)]
        partners = [n for n in pool if n != first and _compatible(first, n)]
        if max_at_once >= 2 and partners and rng.random() < 0.5:
            second = rng.choice(partners)
            start = t + rng.uniform(0, hold / 2)
            second_hold = rng.uniform(bounds.hold_min, bounds.hold_max)
            end = min(start + second_hold, duration_s)
            if end - start >= bounds.hold_min:
                phase_events.append(Event(second, start, end, phase))
        events += phase_events
        t = max(e.off_s for e in phase_events) + rng.uniform(bounds.gap_min, bounds.gap_max)
    return events


def parse_seconds(raw: str, what: str = "duration") -> float:
    """``"45m"``, ``"90s"``, ``"1h"`` as seconds (ValueError names a bad one)."""
    return parse_duration_ms(raw.strip(), what) / 1000


def parse_range(raw: str, what: str) -> tuple[float, float]:
    """``"20s-40s"``/``"3m-8m"`` (or one value) as seconds."""
    low, _, high = raw.partition("-")
    first = parse_seconds(low, what)
    return first, parse_seconds(high, what) if high else first
