"""The exact run's document (``exact.json``), its Markdown report and its plot."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from tracelab.bench.configs import BASELINE
from tracelab.bench.exact import analysis
from tracelab.bench.exact.runner import ExactRun
from tracelab.bench.metrics import SERVICES
from tracelab.bench.plots import DPI
from tracelab.bench.report import markdown_table, text_table

SCHEMA = "tracelab-bench-exact/1"
COLUMNS = (*SERVICES, analysis.TOTAL)
TOP_FUNCTIONS = 25


def to_document(run: ExactRun, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything of a run, analysed; ``previous`` (an earlier exact.json) adds its ratios."""
    requests = run.settings["requests"]
    per_request = {
        r.name: [analysis.per_request(w, requests) for w in r.windows] for r in run.results
    }
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "label": run.settings.get("label"),
        "complete": run.complete,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "wall_s": run.wall_s,
        "machine": run.machine,
        "settings": run.settings,
        "configs": [
            {k: v for k, v in asdict(r).items() if k not in ("windows", "functions")}
            | {"instructions_per_request": per_request[r.name]}
            for r in run.results
        ],
    }
    if BASELINE not in per_request:
        return document
    ratios = analysis.ratio_table(per_request)
    document["ratios"] = ratios
    document["repeat_spread_percent"] = {
        name: {key: analysis.spread_percent([w[key] for w in rows]) for key in rows[0]}
        for name, rows in ratios.items()
    }
    totals = {
        name: analysis.mean([w[analysis.TOTAL] for w in rows]) for name, rows in per_request.items()
    }
    document["attribution"] = analysis.attribution(totals)
    by_name = {r.name: r for r in run.results}
    cats = {
        name: analysis.categories(result.functions, requests) for name, result in by_name.items()
    }
    document["categories"] = cats
    if analysis.REFERENCE in cats:
        document["category_attribution"] = analysis.category_deltas(
            cats[analysis.REFERENCE], cats[BASELINE]
        )
        document["top_functions"] = top_function_deltas(
            by_name[analysis.REFERENCE].functions, by_name[BASELINE].functions, requests
        )
    probabilities = {c["name"]: c["probability"] for c in document["configs"]}
    if "unsampled" in ratios and analysis.REFERENCE in ratios:
        unsampled = analysis.mean([w[analysis.TOTAL] for w in ratios["unsampled"]])
        full = analysis.mean([w[analysis.TOTAL] for w in ratios[analysis.REFERENCE]])
        document["expected_ratios"] = {
            name: analysis.expected_ratio(probabilities[name], unsampled, full)
            for name in ratios
            if name.startswith("ratio-")
        }
    if previous is not None:
        document["previous"] = {
            "started_at": previous.get("started_at"),
            "ratios": previous.get("ratios", {}),
        }
    return document


def top_function_deltas(
    config: Mapping[str, int], baseline: Mapping[str, int], requests: int
) -> list[dict[str, Any]]:
    """The C functions whose self instructions per request grew most over the baseline."""
    keys = set(config) | set(baseline)
    rows = [
        {
            "object": key.split("\t", 1)[0].rsplit("/", 1)[-1],
            "function": key.split("\t", 1)[-1],
            "category": analysis.category_of(key),
            "instructions_per_request": (config.get(key, 0) - baseline.get(key, 0)) / requests,
        }
        for key in keys
    ]
    return sorted(rows, key=lambda row: -row["instructions_per_request"])[:TOP_FUNCTIONS]


def write_json(document: Mapping[str, Any], path: Path) -> None:
    """Write ``exact.json``."""
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")


def _m(value: float) -> str:
    return f"{value / 1e6:.3f}"


def instruction_rows(document: Mapping[str, Any]) -> list[list[str]]:
    """Config, window, millions of instructions per request per service and in total."""
    rows = []
    for config in document["configs"]:
        for index, window in enumerate(config["instructions_per_request"], start=1):
            rows.append([config["name"], str(index), *(_m(window.get(c, 0.0)) for c in COLUMNS)])
    return rows


def ratio_rows(document: Mapping[str, Any]) -> list[list[str]]:
    """Config, ratios vs off of every window (total and per service), the windows' spread,
    and with a previous run its total ratio and the difference."""
    previous = document.get("previous", {}).get("ratios", {})
    expected = document.get("expected_ratios", {})
    sampled = {c["name"]: c["sampled_requests"] for c in document["configs"]}
    rows = []
    for name, windows in document.get("ratios", {}).items():
        totals = [w[analysis.TOTAL] for w in windows]
        per_service = " ".join(
            f"{s} {analysis.mean([w[s] for w in windows]):.4f}" for s in SERVICES if s in windows[0]
        )
        row = [
            name,
            " / ".join(f"{t:.4f}" for t in totals),
            f"{document['repeat_spread_percent'][name][analysis.TOTAL]:.3f}%",
            f"{expected[name]:.4f}" if name in expected else "",
            str(sampled.get(name, "")),
            per_service,
        ]
        if previous:
            before = previous.get(name)
            if before:
                old = analysis.mean([w[analysis.TOTAL] for w in before])
                new = analysis.mean(totals)
                row += [f"{old:.4f}", f"{100 * (new - old) / old:+.3f}%"]
            else:
                row += ["n/a", "n/a"]
        rows.append(row)
    return rows


RATIO_HEADERS = [
    "config",
    "total ratio (windows)",
    "window spread",
    "expected at p",
    "sampled/window",
    "per service (mean)",
]
PREVIOUS_HEADERS = ["previous run", "run-to-run"]


def attribution_rows(rows: Sequence[Mapping[str, Any]], key: str = "component") -> list[list[str]]:
    """Component, instructions per request, % of the 100% overhead."""
    return [
        [str(r[key]), f"{r['instructions_per_request']:,.0f}", f"{r['percent_of_overhead']:.1f}%"]
        for r in rows
    ]


def post_note(document: Mapping[str, Any]) -> str:
    """What the HTTP row means per POST: a window's spans leave in one POST per service."""
    http = next((r for r in document["attribution"] if "POST" in r["component"]), None)
    if http is None:
        return ""
    requests, services = document["settings"]["requests"], len(SERVICES)
    per_post = http["instructions_per_request"] * requests / services
    noise = _window_noise(document)
    if abs(http["instructions_per_request"]) <= noise:
        return (
            f"The HTTP row ({http['instructions_per_request']:+,.0f} instructions per request) "
            f"is within the spread of the 100% windows (±{noise:,.0f} per request): here a "
            f"POST ({services} per {requests} requests) costs too little to tell from zero."
        )
    return (
        f"A window's spans leave in one POST per service (each holds fewer than 512), so "
        f"{services} POSTs per {requests} requests: about {per_post / 1e6:.2f} M instructions "
        "per POST. Under the time benchmark's load every POST carries a full 512-span batch "
        "(one per ~200 requests per service), so there the HTTP row is about "
        f"{requests / 200:.2f}x the figure above."
    )


def _window_noise(document: Mapping[str, Any]) -> float:
    """The 100% windows' spread, in instructions per request (0 when unknown)."""
    reference = next((c for c in document["configs"] if c["name"] == analysis.REFERENCE), None)
    spread = document.get("repeat_spread_percent", {}).get(analysis.REFERENCE, {})
    if reference is None or analysis.TOTAL not in spread:
        return 0.0
    total = analysis.mean([w[analysis.TOTAL] for w in reference["instructions_per_request"]])
    return spread[analysis.TOTAL] / 100 * total


def console_summary(document: Mapping[str, Any]) -> str:
    """The terminal summary: ratios, then the attribution."""
    headers = RATIO_HEADERS + (PREVIOUS_HEADERS if "previous" in document else [])
    parts = [
        text_table(headers, ratio_rows(document)),
        "",
        text_table(
            ["component", "instr/request", "% of 100%"],
            attribution_rows(document.get("attribution", [])),
        ),
        "",
        f"wall time: {document['wall_s'] / 60:.1f} min",
    ]
    return "\n".join(parts)


def markdown_report(
    document: Mapping[str, Any], plots: Sequence[str], comparison: Sequence[Mapping[str, Any]] = ()
) -> str:
    """report.md."""
    s = document["settings"]
    lines = [
        f"# Exact tracing overhead ({document['started_at']})",
        "",
        f"callgrind instruction counts of the five services' serving processes, "
        f"{s['requests']} requests per window, {s['windows']} windows per configuration, "
        f"{s['warmup']} warm-up requests, seed {s['seed']}; wall time "
        f"{document['wall_s'] / 60:.1f} min. Machine: {document['machine'].get('cpu_model')}, "
        f"Python {document['machine'].get('python')}, "
        f"OpenTelemetry SDK {document['machine'].get('opentelemetry_sdk')}.",
        "",
        "## Instructions per request (millions)",
        "",
        markdown_table(["config", "window", *COLUMNS], instruction_rows(document)),
        "",
        "## Ratios against tracing off",
        "",
        "Total instructions per request over tracing off's, window by window. A window "
        "samples a whole number of its requests (every 1/p-th), so 1% samples none of 40: "
        "*expected at p* is unsampled + p x (100% - unsampled), the average cost at that "
        "probability.",
        "",
        markdown_table(
            RATIO_HEADERS + (PREVIOUS_HEADERS if "previous" in document else []),
            ratio_rows(document),
        ),
        "",
    ]
    if document.get("attribution"):
        lines += [
            "## Attribution by ablation",
            "",
            "Each row: the same requests with one component taken away; the difference in "
            "total instructions per request is its cost. The first four rows chain from 100% "
            "down to tracing off and add up to the whole overhead; the rows starting with '-' "
            "split the recording row one library at a time (without a span processor), and "
            "each also removes what that library costs when tracing is off, so they overlap "
            "(grey in the plot). Configurations with unexpected answers: "
            + (
                ", ".join(
                    f"{c['name']} ({c['unexpected_statuses']})"
                    for c in document["configs"]
                    if c["unexpected_statuses"]
                )
                or "none"
            )
            + ".",
            "",
            markdown_table(
                ["component", "instructions/request", "% of the 100% overhead"],
                attribution_rows(document["attribution"]),
            ),
            "",
            post_note(document),
            "",
        ]
    if document.get("category_attribution"):
        lines += [
            "## Attribution by C function (100% over off)",
            "",
            markdown_table(
                ["category", "instructions/request", "% of the 100% overhead"],
                attribution_rows(document["category_attribution"], key="category"),
            ),
            "",
            "Top functions by growth:",
            "",
            markdown_table(
                ["object", "function", "category", "instructions/request"],
                [
                    [
                        r["object"],
                        f"`{r['function']}`",
                        r["category"],
                        f"{r['instructions_per_request']:,.0f}",
                    ]
                    for r in document.get("top_functions", [])
                ],
            ),
            "",
        ]
    if comparison:
        lines += [
            "## Against the time benchmark (CPU per request, 95% interval)",
            "",
            markdown_table(
                ["config", "exact ratio", "time ratio", "time 95% interval", "within"],
                [
                    [
                        r["config"],
                        f"{r['exact_ratio']:.4f}",
                        f"{r['time_ratio']:.4f}",
                        f"{r['time_low']:.4f} - {r['time_high']:.4f}"
                        if r["within"] is not None
                        else "none (one valid pair)",
                        {True: "yes", False: "no", None: "n/a"}[r["within"]],
                    ]
                    for r in comparison
                ],
            ),
            "",
        ]
    lines += [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    return "\n".join(lines) + "\n"


def plot(document: Mapping[str, Any], path: Path) -> Path | None:
    """Ratios per configuration and the ablation attribution, side by side."""
    ratios = document.get("ratios")
    if not ratios:
        return None
    main = [n for n in ratios if not n.startswith(analysis.ABLATION_PREFIX)]
    rows = [r for r in document.get("attribution", []) if not r["component"].startswith("total")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), width_ratios=[1, 1.4])
    values = [100 * (analysis.mean([w[analysis.TOTAL] for w in ratios[n]]) - 1) for n in main]
    left.bar(range(len(main)), values, color="tab:blue")
    left.set_xticks(range(len(main)), main, rotation=30, ha="right")
    left.set_ylabel("instructions per request over tracing off (%)")
    left.set_title("exact overhead (callgrind)")
    left.axhline(0, color="black", linewidth=0.8)
    if rows:
        right.barh(
            range(len(rows)),
            [r["instructions_per_request"] / 1e3 for r in rows],
            color=["tab:orange" if r.get("additive") else "tab:gray" for r in rows],
        )
        right.set_yticks(range(len(rows)), [r["component"] for r in rows], fontsize=8)
        right.invert_yaxis()
        right.set_xlabel("thousand instructions per request")
        right.set_title("where the 100% overhead goes (ablation)")
        right.axvline(0, color="black", linewidth=0.8)
    else:
        right.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
