"""The workshop's one view of the scenario catalogue: what an exercise needs per scenario.

Every other module of :mod:`tracelab.workshop` reads scenarios through this
adapter only. The scenarios, their answer keys included, are declared once
in :mod:`services.common.scenarios` and looked up through
:mod:`tracelab.scenarios.catalogue`; this module only shapes them for
grading: the answer key's sets are normalised once (:func:`normalise_name`,
:func:`normalise_operation`), so a learner who names the SQL query or the
db handler that runs it has found the same fault, and names are never
compared as prose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.common.scenarios import (
    FIX_KINDS,
    UnknownScenario,
    normalise_name,
    normalise_operation,
)
from tracelab.scenarios import catalogue
from tracelab.scenarios.signatures import Signature

__all__ = [
    "DROP",
    "KEEP_ONE",
    "NONE",
    "OWN",
    "AnswerKey",
    "Entry",
    "UnknownScenario",
    "answer_keys",
    "causes",
    "entry",
    "names",
    "normalise_name",
    "normalise_operation",
]

# How the fix changes the finding's spans (the declaration's ``Answer.fix``,
# explained there), as tracelab.workshop.whatif projects it.
DROP, OWN, KEEP_ONE, NONE = FIX_KINDS


@dataclass(frozen=True)
class AnswerKey:
    """The right answers of one scenario, normalised: sets of acceptable services and operations."""

    services: frozenset[str]
    operations: frozenset[str]
    cause: str
    fix: str = DROP


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


def _answer_key(scenario: catalogue.LabScenario) -> AnswerKey:
    answer = scenario.answer
    return AnswerKey(
        frozenset(normalise_name(s) for s in answer.services),
        frozenset(normalise_operation(o) for o in answer.operations),
        answer.cause,
        answer.fix,
    )


def names() -> tuple[str, ...]:
    """Every scenario name, in declaration order."""
    return catalogue.names()


def entry(name: str) -> Entry:
    """The scenario called ``name``; :class:`UnknownScenario` for any other name."""
    scenario = catalogue.get(name)
    return Entry(
        name=scenario.name,
        summary=scenario.summary,
        services=scenario.owner_services,
        journey=scenario.check.journey,
        concurrency=scenario.check.concurrency,
        defaults=dict(scenario.defaults),
        signature=scenario.signature,
        answer=_answer_key(scenario),
    )


def answer_keys() -> dict[str, AnswerKey]:
    """Every scenario's normalised answer key, by name."""
    return {scenario.name: _answer_key(scenario) for scenario in catalogue.all()}


def causes() -> list[dict[str, str]]:
    """The list learners choose a cause from: every scenario's id and summary."""
    return [{"id": s.name, "summary": s.summary} for s in catalogue.all()]
