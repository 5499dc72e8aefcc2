"""The tracing configurations the benchmark compares, as environment overlays.

Every configuration also gets the load profile's stack environment
(``loadtest/profiles/stack.env``: ``FRONTEND_TRUST_TRACEPARENT=true``, so the
synthetic-request baggage reaches every service).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.common import exporters, launch

BASELINE = "off"
STACK_ENV_FILE = Path("loadtest/profiles/stack.env")


@dataclass(frozen=True)
class BenchConfig:
    """A named tracing configuration: the services' extra environment."""

    name: str
    description: str
    env: Mapping[str, str] = field(default_factory=dict)


STANDARD_CONFIGS: tuple[BenchConfig, ...] = (
    BenchConfig("off", "tracing off (OTEL_SDK_DISABLED=true)", {"OTEL_SDK_DISABLED": "true"}),
    BenchConfig(
        "unsampled",
        "instrumented, nothing sampled (parentbased_always_off)",
        {"OTEL_TRACES_SAMPLER": "parentbased_always_off"},
    ),
    BenchConfig(
        "ratio-1pct",
        "parent-based ratio sampling, 1%",
        {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"},
    ),
    BenchConfig(
        "ratio-10pct",
        "parent-based ratio sampling, 10%",
        {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    ),
    BenchConfig(
        "ratio-100pct",
        "parent-based ratio sampling, 100%",
        {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.0"},
    ),
)
_FULL_SAMPLING = STANDARD_CONFIGS[-1].env
# Two more at 100%, measured side by side with the standard ones (tracelab
# bench-exact runs them by default; ``tracelab bench --configs`` can name them).
EXTRA_CONFIGS: tuple[BenchConfig, ...] = (
    BenchConfig(
        "stock-encoder",
        "100%, the SDK's stock OTLP/HTTP exporter",
        # OTEL_TRACES_EXPORTER names the exporter's entry point (unset, or
        # ``tracelab``: the direct encoder).
        {**_FULL_SAMPLING, exporters.TRACES.variable: "otlp_proto_http"},
    ),
    BenchConfig(
        "zero-code",
        "100%, zero-code instrumentation (opentelemetry-instrument)",
        {**_FULL_SAMPLING, launch.MODE_VAR: launch.ZERO_CODE},
    ),
)
CONFIG_NAMES: tuple[str, ...] = tuple(c.name for c in STANDARD_CONFIGS)
ALL_CONFIGS: tuple[BenchConfig, ...] = (*STANDARD_CONFIGS, *EXTRA_CONFIGS)
ALL_CONFIG_NAMES: tuple[str, ...] = tuple(c.name for c in ALL_CONFIGS)


def select_configs(names: Sequence[str] | None) -> list[BenchConfig]:
    """The configurations named (the standard ones by default), baseline first, in order.

    Any of :data:`ALL_CONFIGS` may be named.
    """
    if not names:
        return list(STANDARD_CONFIGS)
    unknown = sorted(set(names) - set(ALL_CONFIG_NAMES))
    if unknown:
        raise ValueError(
            f"unknown configuration {', '.join(unknown)}: choose from {ALL_CONFIG_NAMES}"
        )
    wanted = set(names) | {BASELINE}
    return [c for c in ALL_CONFIGS if c.name in wanted]


def parse_variant(text: str) -> BenchConfig:
    """A custom configuration from ``NAME:KEY=VALUE,KEY=VALUE`` (``tracelab bench --variant``)."""
    name, sep, pairs = text.partition(":")
    name = name.strip()
    if not sep or not name or name in ALL_CONFIG_NAMES:
        raise ValueError(f"expected NAME:KEY=VALUE[,KEY=VALUE...] with a new name, got {text!r}")
    env: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in pairs.split(","))):
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"variant {name!r}: expected KEY=VALUE, got {pair!r}")
        env[key.strip()] = value.strip()
    return BenchConfig(name, "custom: " + ", ".join(f"{k}={v}" for k, v in env.items()), env)


def fill_ports(env: Mapping[str, str], ports: Mapping[str, str]) -> dict[str, str]:
    """Replace ``{PORT_VARIABLE}`` placeholders (e.g. ``{OTELCOL_OTLP_GRPC_PORT}``) by ports."""
    filled = {}
    for key, value in env.items():
        for var, port in ports.items():
            value = value.replace("{" + var + "}", port)
        filled[key] = value
    return filled


def parse_env_file(text: str) -> dict[str, str]:
    """``KEY=value`` lines; blank lines and ``#`` comments are skipped, quotes stripped."""
    env: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"line {number}: expected KEY=value, got {raw!r}")
        env[key] = value.strip().strip("'\"")
    return env


def load_stack_env(root: Path, path: Path | None = None) -> dict[str, str]:
    """The load profile's stack environment (empty when the file does not exist)."""
    file = root / (path or STACK_ENV_FILE)
    return parse_env_file(file.read_text()) if file.is_file() else {}


def service_env(config: BenchConfig, base: Mapping[str, str]) -> dict[str, str]:
    """The ``extra_env`` for the stack: the profile's base, then the configuration's."""
    return {**base, **config.env}
