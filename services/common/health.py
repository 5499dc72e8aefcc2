"""Liveness and readiness answers shared by both web frameworks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HEALTH_PATHS = ("/healthz", "/readyz")


def liveness() -> dict[str, Any]:
    """The body of ``/healthz``: the process is up and serving."""
    return {"status": "ok"}


def readiness(checks: Mapping[str, bool]) -> tuple[dict[str, Any], int]:
    """The body and status of ``/readyz`` from each dependency's check result."""
    failing = sorted(name for name, ok in checks.items() if not ok)
    body: dict[str, Any] = {
        "status": "ready" if not failing else "not_ready",
        "checks": {name: "ok" if ok else "failing" for name, ok in checks.items()},
    }
    if failing:
        body["message"] = "dependencies not reachable: " + ", ".join(failing)
    return body, 200 if not failing else 503
