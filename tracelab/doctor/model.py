"""A check's verdict, and a report of several as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

PASS = "PASS"
WARN = "WARN"
FAIL = "FAIL"
SKIP = "SKIP"  # the evidence could not be read (its source was not given or did not answer)
STATUSES = (PASS, WARN, FAIL, SKIP)


@dataclass(frozen=True)
class CheckResult:
    """One check: its name, verdict, one-line summary, the evidence and the fix."""

    name: str
    status: str
    summary: str
    evidence: tuple[str, ...] = ()
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "check": self.name,
            "status": self.status,
            "summary": self.summary,
            "evidence": list(self.evidence),
            "fix": self.fix,
            "data": self.data,
        }


def worst(results: Sequence[CheckResult]) -> str:
    """FAIL if any failed, else WARN if any warned, else PASS."""
    statuses = {result.status for result in results}
    return FAIL if FAIL in statuses else WARN if WARN in statuses else PASS


def exit_code(results: Sequence[CheckResult]) -> int:
    """1 when any check failed, else 0 (a warning is not a failure)."""
    return 1 if worst(results) == FAIL else 0


def render_text(results: Sequence[CheckResult], target: str) -> str:
    """The report as people read it: one block per check."""
    lines = [f"tracelab doctor: {target}", ""]
    for result in results:
        lines.append(f"[{result.status}] {result.name}: {result.summary}")
        lines.extend(f"       {line}" for line in result.evidence)
        if result.fix and result.status != PASS:
            lines.append(f"   fix: {result.fix}")
    counts = {status: sum(r.status == status for r in results) for status in STATUSES}
    lines += ["", " ".join(f"{counts[s]} {s.lower()}" for s in STATUSES if counts[s])]
    return "\n".join(lines)


def render_json(results: Sequence[CheckResult], target: dict[str, Any]) -> str:
    """The report as JSON: the target, every check and the overall verdict."""
    return json.dumps(
        {
            "target": target,
            "status": worst(results),
            "checks": [result.to_dict() for result in results],
        },
        indent=2,
    )
