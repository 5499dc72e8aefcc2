"""The workshop's one view of the scenario catalogue: what an exercise needs per scenario.

Every other module of :mod:`tracelab.workshop` reads scenarios through this
adapter only, so pointing it at another declaration of the scenarios is one
edit here. Today it joins :data:`services.common.faults.SCENARIOS` (owners,
summary, parameters), :data:`tracelab.scenarios.signatures.SIGNATURES` (the
detector that proves a trace shows the fault) and
:data:`tracelab.scenarios.spec.SPECS` (the journey that shows it) with the
answer keys below, which live nowhere else.

An answer key holds *sets* of acceptable answers per field: a learner who
names the SQL query or the db handler that runs it has found the same
fault. Names are compared normalised (:func:`normalise_operation`), never
as prose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.common.faults import SCENARIOS
from tracelab.scenarios.signatures import SIGNATURES, Signature
from tracelab.scenarios.spec import SPECS

# How the fix changes the finding's spans, for the what-if projection
# (tracelab.workshop.whatif): "drop" removes them and what they called from
# the critical path (the slow query, the pool wait); "own" only their own
# time (the wait, not the work); "keep-one" keeps the longest of them (one
# call instead of N, one attempt instead of retries, calls now concurrent);
# "none" removes nothing (the fix changes errors or context, not latency).
DROP = "drop"
OWN = "own"
KEEP_ONE = "keep-one"
NONE = "none"


@dataclass(frozen=True)
class AnswerKey:
    """The right answers of one scenario: sets of acceptable services and operations."""

    services: frozenset[str]
    operations: frozenset[str]
    cause: str
    fix: str = DROP


def normalise_name(raw: str) -> str:
    """A service name or cause id as compared: lower case, no surrounding blanks."""
    return re.sub(r"[\s_]+", "-", raw.strip().lower())


def normalise_operation(raw: str) -> str:
    """A span name as compared: lower case, single spaces, route placeholders as ``{}``."""
    text = re.sub(r"\s+", " ", raw.strip().lower())
    return re.sub(r"<[^>/]*>|\{[^}/]*\}", "{}", text)


def _key(services: set[str], operations: set[str], cause: str, fix: str = DROP) -> AnswerKey:
    return AnswerKey(
        frozenset(normalise_name(s) for s in services),
        frozenset(normalise_operation(o) for o in operations),
        cause,
        fix,
    )


# The answer keys, in one place. Operations are span names as the traces
# carry them (route placeholders are normalised, so {id} and <user_id> agree).
ANSWER_KEYS: dict[str, AnswerKey] = {
    "slow-query": _key({"db"}, {"SELECT", "GET /users/{id}/activity"}, "slow-query"),
    "n-plus-one": _key(
        {"user"},
        {"GET /users/{id}/activity", "GET /activity/{id}", "GET"},
        "n-plus-one",
        KEEP_ONE,
    ),
    "sequential-fanout": _key(
        {"gateway"},
        {"gateway.dashboard_fanout", "GET /api/dashboard"},
        "sequential-fanout",
        KEEP_ONE,
    ),
    "pool-starvation": _key(
        {"db"},
        {"db.pool.wait", "GET /users/{id}/activity", "GET /users/{id}"},
        "pool-starvation",
    ),
    "flaky-auth": _key({"auth"}, {"auth.token_verify", "POST /verify"}, "flaky-auth", NONE),
    "retry-storm": _key(
        {"user", "db"}, {"GET /users/{id}/activity", "GET"}, "retry-storm", KEEP_ONE
    ),
    "lost-context": _key({"user"}, {"GET /users/{id}/activity"}, "lost-context", NONE),
    "blocking-loop": _key({"user"}, {"GET /users/{id}"}, "blocking-loop", OWN),
}


class UnknownScenario(ValueError):
    """No scenario of the catalogue has this name."""


@dataclass(frozen=True)
class Entry:
    """One scenario as the workshop sees it."""

    name: str
    summary: str
    services: tuple[str, ...]
    journey: str
    concurrency: int
    defaults: Mapping[str, Any]
    signature: Signature
    answer: AnswerKey


def names() -> tuple[str, ...]:
    """Every scenario name, in catalogue order."""
    return tuple(SCENARIOS)


def entry(name: str) -> Entry:
    """The scenario called ``name``; :class:`UnknownScenario` for any other name."""
    if name not in SCENARIOS or name not in ANSWER_KEYS:
        raise UnknownScenario(f"unknown scenario {name!r}; known: {', '.join(names())}")
    scenario = SCENARIOS[name]
    return Entry(
        name=name,
        summary=scenario.summary,
        services=scenario.services,
        journey=SPECS[name].journey,
        concurrency=SPECS[name].concurrency,
        defaults=dict(scenario.defaults),
        signature=SIGNATURES[name],
        answer=ANSWER_KEYS[name],
    )


def causes() -> list[dict[str, str]]:
    """The list learners choose a cause from: every scenario's id and summary."""
    return [{"id": name, "summary": SCENARIOS[name].summary} for name in names()]
