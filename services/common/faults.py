"""Fault injection: a small runtime registry of workshop scenarios.

Every service process holds one :data:`REGISTRY`. A scenario is switched on
and off at runtime through the admin API (``services.common.admin``), or at
start-up with ``TRACELAB_SCENARIOS=slow-query,flaky-auth``. The code that
misbehaves lives where the fault belongs (db, user, gateway, auth) and asks
the registry with :func:`active`; with every scenario off (the default) the
services behave exactly as their golden trace shapes say.

The registry is per process: with ``WEB_CONCURRENCY`` > 1 an admin call
reaches one gunicorn worker only, so the lab runs one worker per service.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

SCENARIOS_ENV = "TRACELAB_SCENARIOS"

Params = dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    """One injectable fault: where it lives, what it does, its tunable parameters."""

    name: str
    services: tuple[str, ...]
    summary: str
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def params(self, overrides: Mapping[str, Any] | None = None) -> Params:
        """The defaults with ``overrides`` applied; unknown or mistyped keys raise ValueError."""
        merged: Params = dict(self.defaults)
        for key, value in (overrides or {}).items():
            if key not in self.defaults:
                known = ", ".join(sorted(self.defaults)) or "none"
                raise ValueError(f"{self.name}: unknown parameter {key!r} (known: {known})")
            default = self.defaults[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{self.name}: parameter {key!r} must be a number")
            merged[key] = type(default)(value)
        return merged


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "slow-query",
            ("db",),
            "the activity query defeats its index (a cast on user_id) and scans",
            {"scan_ms": 300, "share": 1.0},
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
            {"pool_size": 1, "hold_ms": 50},
        ),
        Scenario(
            "flaky-auth",
            ("auth",),
            "a share of token verifications fail inside auth (its session store times out)",
            {"rate": 0.5},
        ),
        Scenario(
            "retry-storm",
            ("db", "user"),
            "db answers activity slowly; user retries it with a short per-attempt timeout",
            {"delay_ms": 400, "attempt_timeout_ms": 120, "attempts": 3},
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
            {"block_ms": 300},
        ),
    )
}


class UnknownScenario(KeyError):
    """No scenario has this name."""


class Registry:
    """The scenarios switched on in this process, with their parameters (thread-safe)."""

    def __init__(self, catalog: Mapping[str, Scenario] = SCENARIOS) -> None:
        self.catalog = dict(catalog)
        self._active: dict[str, Params] = {}
        self._lock = threading.Lock()

    def scenario(self, name: str) -> Scenario:
        """The scenario called ``name`` (UnknownScenario otherwise)."""
        try:
            return self.catalog[name]
        except KeyError:
            raise UnknownScenario(name) from None

    def enable(self, name: str, overrides: Mapping[str, Any] | None = None) -> Params:
        """Switch ``name`` on (again, with new parameters); return its parameters."""
        params = self.scenario(name).params(overrides)
        with self._lock:
            self._active[name] = params
        log.warning("scenario %s switched ON %s", name, params)
        return params

    def disable(self, name: str) -> bool:
        """Switch ``name`` off; True when it was on."""
        self.scenario(name)
        with self._lock:
            was_on = self._active.pop(name, None) is not None
        if was_on:
            log.warning("scenario %s switched OFF", name)
        return was_on

    def disable_all(self) -> list[str]:
        """Switch every scenario off; return the names that were on."""
        names = sorted(self.snapshot())
        for name in names:
            self.disable(name)
        return names

    def params(self, name: str) -> Params | None:
        """The parameters of ``name`` when it is on, else None (cheap: one dict lookup)."""
        return self._active.get(name)

    def snapshot(self) -> dict[str, Params]:
        """Every active scenario with a copy of its parameters."""
        with self._lock:
            return {name: dict(params) for name, params in self._active.items()}

    def describe(self, service: str | None = None) -> list[dict[str, Any]]:
        """The catalog as JSON-ready dicts, with each scenario's state."""
        active = self.snapshot()
        return [
            {
                "name": s.name,
                "services": list(s.services),
                "summary": s.summary,
                "active": s.name in active,
                "params": active.get(s.name, dict(s.defaults)),
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
    """The parameters of scenario ``name`` when it is on in this process, else None."""
    return REGISTRY.params(name)


def roll(rate: float, rng: Callable[[], float] = random.random) -> bool:
    """True with probability ``rate`` (0..1): does this call fail?"""
    return rng() < rate


class InjectedFault(RuntimeError):
    """An exception raised on purpose by a workshop scenario."""
