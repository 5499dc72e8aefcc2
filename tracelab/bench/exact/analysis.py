"""From instruction counts to per-request figures, ratios, their repeat spread, attribution.

Pure functions over JSON-ready data, so the tests feed them numbers and
``--report-from`` re-renders a run without measuring.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tracelab.bench.configs import BASELINE
from tracelab.bench.metrics import SERVICES

TOTAL = "total"
REFERENCE = "ratio-100pct"  # the overhead the attribution splits


def per_request(window: Mapping[str, int], requests: int) -> dict[str, float]:
    """Instructions per request of each service in one window, and their total."""
    if requests <= 0:
        raise ValueError("a window has at least one request")
    figures = {name: window[name] / requests for name in SERVICES if name in window}
    figures[TOTAL] = sum(figures.values())
    return figures


def ratio_table(
    windows: Mapping[str, Sequence[Mapping[str, float]]], baseline: str = BASELINE
) -> dict[str, list[dict[str, float]]]:
    """Each configuration's per-request figures over the baseline's, window by window.

    ``windows`` maps a configuration to its windows' per-request figures;
    window k of a configuration is divided by window k of the baseline (the
    same requests at the same point of the process's life).
    """
    base = windows[baseline]
    table = {}
    for name, figures in windows.items():
        rows = []
        for index, window in enumerate(figures):
            reference = base[min(index, len(base) - 1)]
            rows.append({key: window[key] / reference[key] for key in window if reference.get(key)})
        table[name] = rows
    return table


def spread_percent(values: Sequence[float]) -> float:
    """The repeat spread of ratios: (max - min) in percent of the ratio (0 for one value)."""
    if not values:
        return 0.0
    return 100.0 * (max(values) - min(values)) / (sum(values) / len(values))


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean (ValueError on none)."""
    if not values:
        raise ValueError("no values")
    return sum(values) / len(values)


def expected_ratio(probability: float, unsampled: float, full: float) -> float:
    """The ratio a sampling probability costs on average: unsampled plus ``p`` of the gap.

    Each trace is sampled or not; a sampled one costs what it costs at 100%, an
    unsampled one what it costs unsampled. A short window samples a whole
    number of requests (none of 40 at 1%), so this is the figure to quote.
    """
    return unsampled + probability * (full - unsampled)


# -- attribution by ablation ------------------------------------------------------------
@dataclass(frozen=True)
class Component:
    """A row of the ablation table: ``with_`` minus ``without`` is the component's cost.

    The ``additive`` rows split the 100% overhead exactly (they chain from 100%
    down to tracing off); the others each take one library or propagation
    away, which removes its work *also as it is when tracing is off* (the
    no-op API still runs the hooks), so they overlap and can exceed their share.
    """

    label: str
    with_: str
    without: str
    additive: bool = False


ABLATION_PREFIX = "abl-"
SINK_NONE = "abl-sink-none"
RECORDING = "recording: spans made, sampled, ended; hooks, context, propagation"
COMPONENTS: tuple[Component, ...] = (
    Component(
        "span export: OTLP/HTTP POST (the transport, socket)", REFERENCE, "abl-sink-encode", True
    ),
    Component(
        "span export: OTLP encoding (direct encoder)", "abl-sink-encode", "abl-sink-drop", True
    ),
    Component("span export: batch processor, queue, its thread", "abl-sink-drop", SINK_NONE, True),
    Component(RECORDING, SINK_NONE, BASELINE, True),
    # Within the recording row, one piece at a time (without a span processor).
    Component("- instrumentation: flask (+ wsgi), incl. its no-op cost", SINK_NONE, "abl-no-flask"),
    Component(
        "- instrumentation: aiohttp-server, incl. its no-op cost",
        SINK_NONE,
        "abl-no-aiohttp-server",
    ),
    Component(
        "- instrumentation: aiohttp-client, incl. its no-op cost",
        SINK_NONE,
        "abl-no-aiohttp-client",
    ),
    Component("- instrumentation: requests, incl. its no-op cost", SINK_NONE, "abl-no-requests"),
    Component("- instrumentation: psycopg, incl. its no-op cost", SINK_NONE, "abl-no-psycopg"),
    Component("- propagation (tracecontext + baggage)", SINK_NONE, "abl-no-propagation"),
    # Zero-code against the programmatic 100%, and its metrics' share of that.
    Component("zero-code over programmatic (both 100%)", "zero-code", REFERENCE),
    Component(
        "- zero-code: the configurator's metrics (instrumentations' HTTP metrics, SDK's own)",
        "zero-code",
        "abl-zero-code-no-metrics",
    ),
)
RESIDUAL = "rest (100% overhead not covered by the additive rows)"


def attribution(totals: Mapping[str, float], baseline: str = BASELINE) -> list[dict[str, Any]]:
    """The ablation table: (component, instructions/request, % of the 100% overhead).

    ``totals`` are total instructions per request by configuration. A row
    whose configurations were not measured is left out; when an additive row
    is missing, the residual shows what the additive rows do not cover.
    """
    if REFERENCE not in totals or baseline not in totals:
        return []
    overhead = totals[REFERENCE] - totals[baseline]
    rows = []
    for component in COMPONENTS:
        if component.with_ in totals and component.without in totals:
            cost = totals[component.with_] - totals[component.without]
            rows.append(_row(component.label, cost, overhead) | {"additive": component.additive})
    additive = [row for row in rows if row["additive"]]
    if rows and len(additive) < sum(c.additive for c in COMPONENTS):
        rest = overhead - sum(row["instructions_per_request"] for row in additive)
        rows.append(_row(RESIDUAL, rest, overhead) | {"additive": True})
    rows.append(_row("total: 100% sampling over tracing off", overhead, overhead))
    return rows


def _row(label: str, cost: float, overhead: float) -> dict[str, Any]:
    share = 100.0 * cost / overhead if overhead else 0.0
    return {"component": label, "instructions_per_request": cost, "percent_of_overhead": share}


# -- attribution by C function ----------------------------------------------------------
# (category, pattern searched in "object<TAB>function"); the first match wins.
CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("protobuf (upb)", r"_upb|protobuf|\tupb_"),
        ("zlib", r"libz\.|\t(deflate|inflate|crc32|adler32)"),
        ("json", r"_json|\t(encoder_|scanner_|scanstring|py_encode_basestring|escape_unicode)"),
        (
            "threads, locks, GIL",
            r"\t(take_gil|drop_gil|PyThread_|pthread_|__pthread|futex|"
            r"sem_|PyCOND|_PyEval_SignalReceived|lock_|_PyMutex|__lll_lock)",
        ),
        (
            "socket, select, system calls",
            r"\t(send|recv|sock_|__libc_(send|recv|write|read)|"
            r"__GI___(send|recv|poll|select|epoll|write|read)|epoll_|poll|select|write|read)",
        ),
        ("eval loop", r"\t_PyEval_EvalFrameDefault"),
        (
            "garbage collector",
            r"\t(gc_collect|visit_|subtract_refs|update_refs|move_unreachable|"
            r"deduce_unreachable|move_legacy|_?PyObject_GC_|gc_)",
        ),
        (
            "allocators (pymalloc, malloc)",
            r"\t(_PyObject_Malloc|_PyObject_Free|pymalloc|"
            r"PyObject_Malloc|PyObject_Free|PyMem_|_int_malloc|_int_free|malloc|free|cfree|"
            r"realloc|calloc|unlink_chunk|_PyObject_Realloc|tcache)",
        ),
        (
            "dicts, attribute lookups",
            r"\t(_Py_dict_lookup|unicodekeys_lookup|dict_|insertdict|"
            r"lookdict|_PyType_Lookup|PyObject_GenericGetAttr|_PyObject_GenericGetAttrWithDict|"
            r"PyDict_|_PyDict_|siphash)",
        ),
        (
            "strings, bytes, formatting",
            r"\t(unicode_|PyUnicode_|_PyUnicode|bytes_|_PyBytes|"
            r"PyBytes_|_PyUnicodeWriter|long_to_decimal|format_)",
        ),
        (
            "object calls, frames, refcounts",
            r"\t(_PyObject_|PyObject_|_Py_|_PyFunction|"
            r"method_vectorcall|vectorcall|cfunction|_PyFrame|frame_|_PyArg|tupledealloc|"
            r"list_|tuple_|_PyTuple|PyTuple_|PyList_)",
        ),
        ("libc memory and string routines", r"\t(__mem|mem(cpy|move|set|cmp)|__str|str(len|cmp))"),
        ("crypto (hashing, HMAC)", r"libcrypto|libssl|_hashlib|_sha|_blake|_md5"),
        ("libpq, psycopg", r"libpq|psycopg"),
        ("aiohttp, yarl, multidict C parts", r"aiohttp|yarl|multidict|frozenlist|propcache"),
        ("other interpreter (libpython)", r"libpython"),
        ("other C code", r""),
    )
)


def category_of(key: str) -> str:
    """The category of an ``object<TAB>function`` key (``fn'2`` recursion marks ignored)."""
    key = re.sub(r"'\d+$", "", key)
    for name, pattern in CATEGORIES:
        if pattern.search(key):
            return name
    return CATEGORIES[-1][0]


def categories(functions: Mapping[str, int], requests: int) -> dict[str, float]:
    """Self instructions per request by category."""
    totals: dict[str, float] = {name: 0.0 for name, _ in CATEGORIES}
    for key, cost in functions.items():
        totals[category_of(key)] += cost / requests
    return totals


def category_deltas(
    config: Mapping[str, float], baseline: Mapping[str, float]
) -> list[dict[str, Any]]:
    """Per category: instructions/request over the baseline and its share of the difference."""
    overhead = sum(config.values()) - sum(baseline.values())
    rows = []
    for name in config:
        cost = config[name] - baseline.get(name, 0.0)
        rows.append(_row(name, cost, overhead) | {"category": name})
    return sorted(rows, key=lambda row: -row["instructions_per_request"])


# -- against the time benchmark ---------------------------------------------------------
def compare_with_time(
    exact_ratios: Mapping[str, float], time_document: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Per configuration in both: does the exact ratio lie in the time benchmark's 95% CI?

    The time figure is the service CPU per request overhead of ``bench.json``
    (``overheads.<config>.service_cpu_s_per_1k.relative_percent``), as a ratio.
    """
    rows = []
    for name, overheads in time_document.get("overheads", {}).items():
        if name not in exact_ratios:
            continue
        rel = overheads.get("service_cpu_s_per_1k", {}).get("relative_percent", {})
        centre, half = rel.get("mean"), rel.get("half_width")
        if centre is None or not math.isfinite(centre):
            continue
        exact = exact_ratios[name]
        # One valid pair has no interval: say so rather than compare with nothing.
        interval = half is not None and math.isfinite(half)
        low = 1 + (centre - half) / 100 if interval else None
        high = 1 + (centre + half) / 100 if interval else None
        rows.append(
            {
                "config": name,
                "exact_ratio": exact,
                "time_ratio": 1 + centre / 100,
                "time_low": low,
                "time_high": high,
                "within": bool(low <= exact <= high) if interval else None,
            }
        )
    return rows
