"""How each scenario's signature is checked: journey, shapes, load and decision rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracelab.stack.paths import repo_root

SHAPES_DIR = repo_root() / "tests" / "shapes"


@dataclass(frozen=True)
class CheckSpec:
    """The traffic a check drives and how its traces are judged.

    ``mode`` is ``all`` (every sampled trace must show the signature while the
    scenario is on) or ``any`` (at least one: faults that need contention or
    chance). ``only_status`` restricts the judged traces to answers with that
    status while on (flaky-auth: the calls that failed). ``discriminating``
    says whether the scenario shape itself can tell on from off (else the
    measure alone does).
    """

    scenario: str
    journey: str
    on_status: int = 200
    samples: int = 1
    concurrency: int = 1
    warmup: int = 0
    mode: str = "all"
    only_status: int | None = None
    discriminating: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)
    min_spans: int = 1

    @property
    def shape_path(self) -> Path:
        """The scenario's golden signature shape."""
        return SHAPES_DIR / "scenarios" / f"{self.scenario}.yaml"

    @property
    def baseline_path(self) -> Path:
        """The journey's golden shape: what the trace looks like with every scenario off."""
        return SHAPES_DIR / f"{self.journey}.yaml"


SPECS: dict[str, CheckSpec] = {
    spec.scenario: spec
    for spec in (
        CheckSpec("slow-query", "dashboard", min_spans=17),
        CheckSpec("n-plus-one", "dashboard", min_spans=20),
        CheckSpec("sequential-fanout", "dashboard", discriminating=False, min_spans=17),
        CheckSpec(
            "pool-starvation",
            "dashboard",
            samples=24,
            concurrency=8,
            warmup=32,
            mode="any",
            min_spans=17,
        ),
        CheckSpec(
            "flaky-auth",
            "profile",
            on_status=503,
            samples=12,
            mode="any",
            only_status=503,
            min_spans=6,
        ),
        CheckSpec("retry-storm", "dashboard", on_status=504, min_spans=23),
        CheckSpec("lost-context", "dashboard", min_spans=14),
        CheckSpec("blocking-loop", "dashboard", discriminating=False, min_spans=17),
    )
}
