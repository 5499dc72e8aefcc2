"""The lab's lookup of the workshop scenarios: every tool finds a scenario here.

The scenarios are declared once, in :mod:`services.common.scenarios` (plain
data the services read too); this module adds what only the lab has: the
judging signature (:mod:`tracelab.scenarios.signatures`), the check
(:mod:`tracelab.scenarios.spec`) and absolute paths. Every declared
scenario has an entry by construction: entries are built from the
declaration on each lookup, never listed here.

API (CLI, console, checks, exercises, game days)::

    from tracelab.scenarios import catalogue

    s = catalogue.get("slow-query")  # UnknownScenario (KeyError and ValueError) for a typo
    catalogue.all()                  # every LabScenario, in declaration order
    catalogue.names()                # their names
    s.name, s.owner_services, s.summary, s.parameters, s.defaults, s.params({...})
    s.answer       # .services, .operations (span names), .cause (the id), .fix; .accepts_*()
    s.signature    # Signature: .detector, .what, .judge(trace, params, client) -> Verdict
    s.shape_path   # Path of tests/shapes/scenarios/<name>.yaml
    s.page_path    # Path of docs/workshop/<name>.md
    s.check        # CheckSpec: journey, samples, mode... (``tracelab scenario check``)
    s.declared     # the services.common.scenarios.Scenario object (what services switch)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.common.scenarios import CATALOGUE, Answer, Param, Scenario, UnknownScenario
from tracelab.scenarios.signatures import Signature, signature_of
from tracelab.scenarios.spec import CheckSpec
from tracelab.stack.paths import repo_root

__all__ = ["LabScenario", "UnknownScenario", "all", "get", "names"]


@dataclass(frozen=True)
class LabScenario:
    """A declared scenario as the lab uses it."""

    declared: Scenario

    @property
    def name(self) -> str:
        """The scenario's name (also its cause id)."""
        return self.declared.name

    @property
    def owner_services(self) -> tuple[str, ...]:
        """The services that run its fault code."""
        return self.declared.owner_services

    @property
    def summary(self) -> str:
        """One line: what the fault does."""
        return self.declared.summary

    @property
    def parameters(self) -> Mapping[str, Param]:
        """Its parameters with their bounds."""
        return self.declared.parameters

    @property
    def defaults(self) -> dict[str, Any]:
        """Every parameter's default."""
        return self.declared.defaults

    def params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The defaults with ``overrides`` (checked against the bounds: ValueError)."""
        return self.declared.params(overrides)

    @property
    def answer(self) -> Answer:
        """The answer key: acceptable services and operations, the cause id."""
        return self.declared.answer

    @property
    def signature(self) -> Signature:
        """The finding that proves it in a trace."""
        return signature_of(self.declared)

    @property
    def check(self) -> CheckSpec:
        """How ``tracelab scenario check`` drives and judges it."""
        return CheckSpec.of(self.declared)

    @property
    def shape_path(self) -> Path:
        """Its golden signature shape."""
        return repo_root() / self.declared.shape_path

    @property
    def page_path(self) -> Path:
        """Its workshop page."""
        return repo_root() / self.declared.page_path


def get(name: str) -> LabScenario:
    """The scenario called ``name``; :class:`UnknownScenario` naming the known ones else."""
    return LabScenario(CATALOGUE.get(name))


def all() -> tuple[LabScenario, ...]:  # the catalogue's own word (shadows the builtin here)
    """Every declared scenario, in declaration order."""
    return tuple(LabScenario(s) for s in CATALOGUE.all())


def names() -> tuple[str, ...]:
    """Every declared scenario's name."""
    return CATALOGUE.names()
