"""Read a finished run back from its result folder (to re-render or re-judge it).

``tracelab bench --report-from results/<run>`` rebuilds every output from
``bench.json`` and ``raw.npz`` with the validity rules of the current code,
into ``results/<run>-reanalysed``: the measurements stay, the judgement is
redone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tracelab.bench.loadgen import LoadResult
from tracelab.bench.metrics import LatencySummary, RoundMetrics, invalid_reasons, metrics_from_dict
from tracelab.bench.runner import BenchRun, ProbeResult


def _optional(raw: Any, prefix: str) -> dict[str, Any]:
    """The per-round arrays older runs did not store (journey names, the driver's verdicts)."""
    fields = {}
    if f"{prefix}__journeys" in raw.files:
        fields["journeys"] = [str(name) for name in raw[f"{prefix}__journeys"]]
    if f"{prefix}__failed" in raw.files:
        fields["failed"] = raw[f"{prefix}__failed"].tolist()
    return fields


def _raw(result_dir: Path, rounds: list[RoundMetrics]) -> dict[str, LoadResult]:
    path = result_dir / "raw.npz"
    if not path.is_file():
        return {}
    loads: dict[str, LoadResult] = {}
    with np.load(path) as raw:
        for m in rounds:
            prefix = f"{m.config}__r{m.round}"
            if f"{prefix}__latency_us" not in raw.files:
                continue
            loads[f"{m.config}/{m.round}"] = LoadResult(
                mode="open",
                target_rate=m.target_rate,
                duration_s=m.window_s,
                window_s=m.window_s,
                loadgen_cpu_s=m.loadgen_core_fraction * m.window_s,
                scheduled=m.requests,
                warmup_requests=0,
                journey=raw[f"{prefix}__journey"].tolist(),
                status=raw[f"{prefix}__status"].tolist(),
                latency_us=raw[f"{prefix}__latency_us"].tolist(),
                service_us=raw[f"{prefix}__service_us"].tolist(),
                lag_us=raw[f"{prefix}__lag_us"].tolist(),
                **_optional(raw, prefix),
            )
    return loads


def load_run(result_dir: Path) -> BenchRun:
    """The run stored in ``result_dir`` (bench.json, and raw.npz when present)."""
    document = json.loads((result_dir / "bench.json").read_text())
    rounds = [metrics_from_dict(r) for r in document["rounds"]]
    probes = [
        ProbeResult(**{**p, "latency": LatencySummary(**p["latency"])})
        for p in document["probe"]["levels"]
    ]
    return BenchRun(
        settings=document["settings"],
        machine=document["machine"],
        configs=document["configs"],
        probes=probes,
        capacity_rps=document["probe"]["capacity_rps"],
        target_rate=document["target_rate"],
        rounds=rounds,
        raw=_raw(result_dir, rounds),
        started_at=document["started_at"],
        finished_at=document["finished_at"],
        complete=document["complete"],
    )


def rejudge(run: BenchRun) -> BenchRun:
    """Apply the current validity rules to every round (in place); return the run."""
    for m in run.rounds:
        m.invalid_reasons = invalid_reasons(m)
    return run
