"""The pinned versions of infra/versions.env."""

from __future__ import annotations

from pathlib import Path

from tracelab.stack.errors import StackError

REQUIRED_KEYS = (
    "OTELCOL_BUILDER_VERSION",
    "OTELCOL_CORE_VERSION",
    "OTELCOL_CONTRIB_VERSION",
    "OTELCOL_CORE_STABLE_VERSION",
    "JAEGER_MODULE_VERSION",
    "PROMETHEUS_MODULE_VERSION",
)


def parse_env_file(text: str) -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines; blank lines and ``#`` comments are skipped."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise StackError(f"versions file line {number} is not KEY=VALUE: {raw!r}")
        values[key] = value.strip()
    return values


def load_versions(root: Path) -> dict[str, str]:
    """Read ``infra/versions.env`` and check the keys the tool build needs are set."""
    path = root / "infra" / "versions.env"
    try:
        values = parse_env_file(path.read_text())
    except FileNotFoundError:
        raise StackError(f"{path} is missing: it pins every tool version") from None
    missing = [key for key in REQUIRED_KEYS if not values.get(key)]
    if missing:
        raise StackError(f"{path} does not set {', '.join(missing)}")
    return values
