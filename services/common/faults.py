"""Fault injection: a small runtime registry of workshop scenarios.

Every service process holds one :data:`REGISTRY`. A scenario is switched on
and off at runtime through the admin API (``services.common.admin``), or at
start-up with ``TRACELAB_SCENARIOS=slow-query,flaky-auth``. The code that
misbehaves lives where the fault belongs (db, user, gateway, auth) and asks
the registry with :func:`active`; with every scenario off (the default) the
services behave exactly as their golden trace shapes say.

Every parameter has bounds (:class:`Param`, listed in docs/architecture.md):
a value outside them, or not a finite number, is refused (the admin API
answers 422), so no switch can make a service sleep for hours.

Under gunicorn the registry is shared by all workers of a service
(:meth:`Registry.share_between_processes`, called by the master before it
forks): an admin call reaches one worker, and every worker sees the switch.
"""

from __future__ import annotations

import json
import logging
import math
import mmap
import multiprocessing
import os
import random
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

SCENARIOS_ENV = "TRACELAB_SCENARIOS"

Params = dict[str, Any]


@dataclass(frozen=True)
class Param:
    """One tunable parameter: its default and the bounds every value must stay in.

    An integer default makes an integer parameter (whole numbers only).
    """

    default: int | float
    minimum: int | float
    maximum: int | float

    def value(self, scenario: str, key: str, raw: Any) -> int | float:
        """``raw`` checked against the bounds and typed like the default (else ValueError)."""
        what = f"{scenario}: parameter {key!r}"
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise ValueError(f"{what} must be a number")
        if isinstance(self.default, int) and raw != int(raw):
            raise ValueError(f"{what} must be a whole number")
        if not self.minimum <= raw <= self.maximum:
            raise ValueError(f"{what} must be between {self.minimum} and {self.maximum}")
        return type(self.default)(raw)


@dataclass(frozen=True)
class Scenario:
    """One injectable fault: where it lives, what it does, its tunable parameters."""

    name: str
    services: tuple[str, ...]
    summary: str
    parameters: Mapping[str, Param] = field(default_factory=dict)

    @property
    def defaults(self) -> Params:
        """Every parameter's default."""
        return {key: param.default for key, param in self.parameters.items()}

    def limits(self) -> dict[str, dict[str, int | float]]:
        """Every parameter's bounds, ``{"name": {"min": ..., "max": ...}}``."""
        return {
            key: {"min": param.minimum, "max": param.maximum}
            for key, param in self.parameters.items()
        }

    def params(self, overrides: Mapping[str, Any] | None = None) -> Params:
        """The defaults with ``overrides`` applied; unknown or out-of-bounds values raise."""
        merged = self.defaults
        for key, value in (overrides or {}).items():
            if key not in self.parameters:
                known = ", ".join(sorted(self.parameters)) or "none"
                raise ValueError(f"{self.name}: unknown parameter {key!r} (known: {known})")
            merged[key] = self.parameters[key].value(self.name, key, value)
        return merged


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "slow-query",
            ("db",),
            "the activity query defeats its index (a cast on user_id) and scans",
            {"scan_ms": Param(300, 0, 5000), "share": Param(1.0, 0.0, 1.0)},
        ),
        Scenario(
            "n-plus-one",
            ("user",),
            "user fetches the activity ids, then each entry with its own db call",
            {},
        ),
        Scenario(
            "sequential-fanout",
            ("gateway",),
            "the dashboard awaits the profile, then the activity, one after the other",
            {},
        ),
        Scenario(
            "pool-starvation",
            ("db",),
            "db serves one request at a time (a pool of one), holding it while post-processing",
            {"pool_size": Param(1, 1, 10), "hold_ms": Param(50, 0, 2000)},
        ),
        Scenario(
            "flaky-auth",
            ("auth",),
            "a share of token verifications fail inside auth (its session store times out)",
            {"rate": Param(0.5, 0.0, 1.0)},
        ),
        Scenario(
            "retry-storm",
            ("db", "user"),
            "db answers activity slowly; user retries it with a short per-attempt timeout",
            {
                "delay_ms": Param(400, 0, 5000),
                "attempt_timeout_ms": Param(120, 10, 5000),
                "attempts": Param(3, 1, 10),
            },
        ),
        Scenario(
            "lost-context",
            ("user",),
            "user hands the activity fetch to a thread pool without the trace context",
            {},
        ),
        Scenario(
            "blocking-loop",
            ("user",),
            "user's profile handler makes a blocking call on the event loop",
            {"block_ms": Param(300, 0, 2000)},
        ),
    )
}


# The services that own a scenario, so serve the admin API (the public frontend owns none).
SCENARIO_OWNERS = frozenset(service for s in SCENARIOS.values() for service in s.services)


class UnknownScenario(KeyError):
    """No scenario has this name."""


class SharedState:
    """The active scenarios in memory that forked processes share (gunicorn's workers).

    An anonymous shared mapping and a process-shared lock, both made before
    the fork: ``[generation: u64][length: u32][JSON]``. Readers compare the
    generation (no lock, no system call) and re-read the JSON only when a
    writer bumped it.
    """

    SIZE = 64 * 1024
    _HEADER = struct.Struct("<QI")

    def __init__(self) -> None:
        self._map = mmap.mmap(-1, self.SIZE)  # MAP_SHARED | MAP_ANONYMOUS: kept across fork
        self._lock = multiprocessing.get_context("fork").Lock()

    def generation(self) -> int:
        """The number of writes so far."""
        return self._HEADER.unpack_from(self._map, 0)[0]

    def read(self) -> tuple[int, dict[str, Params]]:
        """The generation and the active scenarios."""
        with self._lock:
            return self._read_locked()

    def _read_locked(self) -> tuple[int, dict[str, Params]]:
        generation, length = self._HEADER.unpack_from(self._map, 0)
        raw = self._map[self._HEADER.size : self._HEADER.size + length]
        return generation, json.loads(raw) if length else {}

    def update(self, change: Callable[[dict[str, Params]], None]) -> tuple[int, dict[str, Params]]:
        """Apply ``change`` to the active scenarios, for every process; the new state."""
        with self._lock:
            generation, active = self._read_locked()
            change(active)
            raw = json.dumps(active).encode()
            if self._HEADER.size + len(raw) > self.SIZE:
                raise ValueError("too many scenario parameters to share")
            self._map[self._HEADER.size : self._HEADER.size + len(raw)] = raw
            self._HEADER.pack_into(self._map, 0, generation + 1, len(raw))
            return generation + 1, active


class Registry:
    """The scenarios switched on, with their parameters (thread-safe).

    Per process, unless :meth:`share_between_processes` made it shared by
    the processes forked afterwards.
    """

    def __init__(self, catalog: Mapping[str, Scenario] = SCENARIOS) -> None:
        self.catalog = dict(catalog)
        # (generation seen, active scenarios), replaced as one: readers take no lock.
        self._view: tuple[int, dict[str, Params]] = (0, {})
        self._lock = threading.Lock()
        self._shared: SharedState | None = None

    def share_between_processes(self) -> None:
        """Keep the state in shared memory from now on (call before forking workers)."""
        if self._shared is not None:
            return
        shared = SharedState()
        current = dict(self._view[1])
        self._view = shared.update(lambda active: active.update(current))
        self._shared = shared

    def scenario(self, name: str) -> Scenario:
        """The scenario called ``name`` (UnknownScenario otherwise)."""
        try:
            return self.catalog[name]
        except KeyError:
            raise UnknownScenario(name) from None

    def _change(self, change: Callable[[dict[str, Params]], None]) -> None:
        if self._shared is not None:
            self._view = self._shared.update(change)
            return
        with self._lock:
            generation, active = self._view
            active = dict(active)
            change(active)
            self._view = (generation + 1, active)

    def _current(self) -> dict[str, Params]:
        shared, view = self._shared, self._view
        if shared is not None and shared.generation() != view[0]:
            view = self._view = shared.read()
        return view[1]

    def enable(self, name: str, overrides: Mapping[str, Any] | None = None) -> Params:
        """Switch ``name`` on (again, with new parameters); return its parameters."""
        params = self.scenario(name).params(overrides)
        self._change(lambda active: active.__setitem__(name, params))
        log.warning("scenario %s switched ON %s", name, params)
        return params

    def disable(self, name: str) -> bool:
        """Switch ``name`` off; True when it was on."""
        self.scenario(name)
        was_on: list[bool] = []
        self._change(lambda active: was_on.append(active.pop(name, None) is not None))
        if was_on[0]:
            log.warning("scenario %s switched OFF", name)
        return was_on[0]

    def disable_all(self) -> list[str]:
        """Switch every scenario off; return the names that were on."""
        names = sorted(self.snapshot())
        for name in names:
            self.disable(name)
        return names

    def params(self, name: str) -> Params | None:
        """The parameters of ``name`` when it is on, else None (cheap: one dict lookup)."""
        return self._current().get(name)

    def snapshot(self) -> dict[str, Params]:
        """Every active scenario with a copy of its parameters."""
        return {name: dict(params) for name, params in self._current().items()}

    def describe(self, service: str | None = None) -> list[dict[str, Any]]:
        """The catalog as JSON-ready dicts, with each scenario's state."""
        active = self.snapshot()
        return [
            {
                "name": s.name,
                "services": list(s.services),
                "summary": s.summary,
                "active": s.name in active,
                "params": active.get(s.name, s.defaults),
                "limits": s.limits(),
                "here": service is None or service in s.services,
            }
            for s in self.catalog.values()
        ]

    def load_env(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """Switch on the scenarios named in ``TRACELAB_SCENARIOS`` (comma separated)."""
        raw = (environ if environ is not None else os.environ).get(SCENARIOS_ENV, "")
        names = [part.strip() for part in raw.split(",") if part.strip()]
        for name in names:
            self.enable(name)
        return names


REGISTRY = Registry()


def active(name: str) -> Params | None:
    """The parameters of scenario ``name`` when it is on, else None."""
    return REGISTRY.params(name)


def roll(rate: float, rng: Callable[[], float] = random.random) -> bool:
    """True with probability ``rate`` (0..1): does this call fail?"""
    return rng() < rate


class InjectedFault(RuntimeError):
    """An exception raised on purpose by a workshop scenario."""
