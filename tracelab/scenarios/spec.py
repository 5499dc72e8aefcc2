"""How each scenario's signature is checked: journey, shapes, load and decision rule.

The numbers are declared with the scenario (``services.common.scenarios.Check``);
this adds the paths the lab reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from services.common import scenarios
from services.common.scenarios import Check, Scenario
from tracelab.stack.paths import repo_root

SHAPES_DIR = repo_root() / "tests" / "shapes"


@dataclass(frozen=True)
class CheckSpec(Check):
    """A declared :class:`Check` with its scenario's name and shape paths."""

    scenario: str = ""

    @classmethod
    def of(cls, declared: Scenario) -> CheckSpec:
        """The check of a declared scenario."""
        plan = {f.name: getattr(declared.check, f.name) for f in dataclasses.fields(Check)}
        return cls(scenario=declared.name, **plan)

    @property
    def shape_path(self) -> Path:
        """The scenario's golden signature shape."""
        return repo_root() / scenarios.CATALOGUE.get(self.scenario).shape_path

    @property
    def baseline_path(self) -> Path:
        """The journey's golden shape: what the trace looks like with every scenario off."""
        return SHAPES_DIR / f"{self.journey}.yaml"


class _ByName(Mapping[str, CheckSpec]):
    """``{name: CheckSpec}`` over the declaration, read on every lookup."""

    def __getitem__(self, name: str) -> CheckSpec:
        return CheckSpec.of(scenarios.CATALOGUE.get(name))

    def __iter__(self) -> Iterator[str]:
        return iter(scenarios.CATALOGUE.names())

    def __len__(self) -> int:
        return len(scenarios.CATALOGUE)


SPECS: Mapping[str, CheckSpec] = _ByName()
