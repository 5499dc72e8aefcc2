"""Fault injection: a small runtime registry of workshop scenarios.

Every service process holds one :data:`REGISTRY`. A scenario is switched on
and off at runtime through the admin API (``services.common.admin``), or at
start-up with ``TRACELAB_SCENARIOS=slow-query,flaky-auth``. The code that
misbehaves lives where the fault belongs (db, user, gateway, auth) and asks
the registry with :func:`active`; with every scenario off (the default) the
services behave exactly as their golden trace shapes say.

The scenarios themselves are declared once, in :mod:`services.common.scenarios`;
the fault code asks by object: ``faults.active(scenarios.SLOW_QUERY)``.

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
import mmap
import multiprocessing
import os
import random
import struct
import threading
from collections.abc import Callable, Mapping
from typing import Any

from services.common.scenarios import (
    CATALOGUE,
    SCENARIOS_ENV,
    ByName,
    Catalogue,
    Param,
    Scenario,
    UnknownScenario,
)

__all__ = [
    "REGISTRY",
    "SCENARIOS",
    "SCENARIOS_ENV",
    "SCENARIO_OWNERS",
    "InjectedFault",
    "Param",
    "Registry",
    "Scenario",
    "UnknownScenario",
    "active",
    "check_env",
    "roll",
]

log = logging.getLogger(__name__)

Params = dict[str, Any]


# The declaration's live views, by the names older callers use.
SCENARIOS: Mapping[str, Scenario] = ByName(CATALOGUE)
# The services that own a scenario, so serve the admin API (the public frontend owns none).
SCENARIO_OWNERS = CATALOGUE.owners()


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

    def __init__(self, catalogue: Catalogue = CATALOGUE) -> None:
        self.catalogue = catalogue
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

    def scenario(self, name: str | Scenario) -> Scenario:
        """The scenario called ``name`` (UnknownScenario otherwise)."""
        if isinstance(name, Scenario):
            if name not in self.catalogue:
                raise UnknownScenario(f"scenario {name.name!r} is not declared")
            return name
        return self.catalogue.get(name)

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

    def enable(self, name: str | Scenario, overrides: Mapping[str, Any] | None = None) -> Params:
        """Switch ``name`` on (again, with new parameters); return its parameters."""
        scenario = self.scenario(name)
        name = scenario.name
        params = scenario.params(overrides)
        self._change(lambda active: active.__setitem__(name, params))
        log.warning("scenario %s switched ON %s", name, params)
        return params

    def disable(self, name: str | Scenario) -> bool:
        """Switch ``name`` off; True when it was on."""
        name = self.scenario(name).name
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

    def params(self, scenario: Scenario | str) -> Params | None:
        """The parameters of ``scenario`` when it is on, else None (UnknownScenario for a typo)."""
        if not isinstance(scenario, Scenario):
            scenario = self.catalogue.get(scenario)
        return self._current().get(scenario.name)

    def snapshot(self) -> dict[str, Params]:
        """Every active scenario with a copy of its parameters."""
        return {name: dict(params) for name, params in self._current().items()}

    def describe(self, service: str | None = None) -> list[dict[str, Any]]:
        """The catalog as JSON-ready dicts, with each scenario's state."""
        active = self.snapshot()
        return [
            {
                "name": s.name,
                "services": list(s.owner_services),
                "summary": s.summary,
                "active": s.name in active,
                "params": active.get(s.name, s.defaults),
                "limits": s.limits(),
                "here": service is None or service in s.owner_services,
            }
            for s in self.catalogue.all()
        ]

    def load_env(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """Switch on the scenarios named in ``TRACELAB_SCENARIOS`` (comma separated).

        An unknown name raises :class:`UnknownScenario` before any is switched on.
        """
        raw = (environ if environ is not None else os.environ).get(SCENARIOS_ENV, "")
        chosen = self.catalogue.parse(raw, SCENARIOS_ENV)
        for scenario in chosen:
            self.enable(scenario)
        return [scenario.name for scenario in chosen]


REGISTRY = Registry()


def check_env(environ: Mapping[str, str] | None = None) -> None:
    """Refuse to start (SystemExit with the message) when ``TRACELAB_SCENARIOS`` has a typo."""
    raw = (environ if environ is not None else os.environ).get(SCENARIOS_ENV, "")
    try:
        CATALOGUE.parse(raw, SCENARIOS_ENV)
    except UnknownScenario as exc:
        log.error("%s", exc)
        raise SystemExit(f"error: {exc}") from None


def active(scenario: Scenario | str) -> Params | None:
    """The parameters of ``scenario`` when it is on, else None (UnknownScenario for a typo)."""
    return REGISTRY.params(scenario)


def roll(rate: float, rng: Callable[[], float] = random.random) -> bool:
    """True with probability ``rate`` (0..1): does this call fail?"""
    return rng() < rate


class InjectedFault(RuntimeError):
    """An exception raised on purpose by a workshop scenario."""
