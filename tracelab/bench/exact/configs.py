"""The exact run's configurations: the shared ones, then the ablations at 100% sampling."""

from __future__ import annotations

from tracelab.bench.configs import ALL_CONFIGS, EXTRA_CONFIGS, STANDARD_CONFIGS, BenchConfig
from tracelab.bench.exact.analysis import ABLATION_PREFIX, SINK_NONE

_FULL = STANDARD_CONFIGS[-1].env
_NO_PROCESSOR = {**_FULL, "TRACELAB_SPAN_SINK": "none"}


def _ablation(name: str, description: str, env: dict[str, str]) -> BenchConfig:
    return BenchConfig(ABLATION_PREFIX + name, description, env)


ABLATIONS: tuple[BenchConfig, ...] = (
    _ablation(
        "sink-encode", "100%, spans encoded, not sent", {**_FULL, "TRACELAB_SPAN_SINK": "encode"}
    ),
    _ablation(
        "sink-drop", "100%, batches dropped unencoded", {**_FULL, "TRACELAB_SPAN_SINK": "drop"}
    ),
    BenchConfig(SINK_NONE, "100%, no span processor", _NO_PROCESSOR),
    *(
        _ablation(
            f"no-{lib}",
            f"100%, no span processor, {lib} not instrumented",
            {**_NO_PROCESSOR, "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": lib},
        )
        for lib in ("flask", "aiohttp-server", "aiohttp-client", "requests", "psycopg")
    ),
    _ablation(
        "no-propagation",
        "100%, no span processor, no propagators",
        {**_NO_PROCESSOR, "OTEL_PROPAGATORS": "none"},
    ),
    _ablation(
        "zero-code-no-metrics",
        "zero-code at 100%, no meter provider (instrumentations' and the SDK's metrics off)",
        {
            **next(c for c in EXTRA_CONFIGS if c.name == "zero-code").env,
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED": "false",
        },
    ),
)
MAIN_CONFIGS: tuple[BenchConfig, ...] = ALL_CONFIGS
EVERY_CONFIG: tuple[BenchConfig, ...] = (*ALL_CONFIGS, *ABLATIONS)
BY_NAME = {c.name: c for c in EVERY_CONFIG}


def select(names: list[str] | None, *, ablations: bool = True) -> list[BenchConfig]:
    """The configurations named (default: all, ablations unless turned off), off first."""
    if not names:
        return list(EVERY_CONFIG if ablations else MAIN_CONFIGS)
    unknown = sorted(set(names) - set(BY_NAME))
    if unknown:
        raise ValueError(f"unknown configuration {', '.join(unknown)}: choose from {list(BY_NAME)}")
    wanted = set(names) | {"off"}
    return [c for c in EVERY_CONFIG if c.name in wanted]
