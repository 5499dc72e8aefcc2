"""What-if and the fix: the latency a fix would win, projected from the traces with the fault on,
then measured on new traces with the fault off.

The projection takes each trace's critical path (:mod:`tracelab.analysis.critical_path`)
and removes the time the fault's spans (the signature finding's) hold on it,
the way the scenario's fix would (:data:`tracelab.workshop.catalogue.AnswerKey.fix`):
``drop`` removes them and everything under them, ``own`` only their own
time (the wait, not the work they called), ``keep-one`` keeps the longest of
them (one call instead of N, one attempt instead of retries, calls that now
run concurrently), ``none`` removes nothing (the fix changes errors, not
latency). What the path loses is what the end-to-end latency would lose.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tracelab.analysis.aggregate import percentile
from tracelab.analysis.critical_path import Segment, critical_path
from tracelab.shapes.model import Trace
from tracelab.workshop.catalogue import DROP, KEEP_ONE, NONE, OWN


def _subtree(trace: Trace, span_id: str) -> set[str]:
    found, todo = set(), [span_id]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.add(current)
        span = trace.span(current)
        if span is not None:
            todo.extend(child.span_id for child in trace.children_of(span))
    return found


def _on_path(segments: Sequence[Segment], ids: set[str]) -> int:
    return sum(s.duration_ns for s in segments if s.span_id in ids)


def removed_ns(trace: Trace, span_ids: Iterable[str], fix: str) -> int:
    """Nanoseconds the fix takes off ``trace``'s critical path (see the module docstring)."""
    wanted = [s for s in span_ids if trace.span(s) is not None]
    if fix == NONE or not wanted:
        return 0
    segments = critical_path(trace)
    if fix == OWN:
        return _on_path(segments, set(wanted))
    if fix == DROP:
        return _on_path(segments, set().union(*(_subtree(trace, s) for s in wanted)))
    if fix == KEEP_ONE:
        each = [_on_path(segments, _subtree(trace, s)) for s in wanted]
        return sum(each) - max(each)
    raise ValueError(f"unknown fix {fix!r}")


@dataclass(frozen=True)
class Projection:
    """One trace: its latency and the latency the fix would leave (ms)."""

    trace_id: str
    latency_ms: float
    projected_ms: float

    @property
    def gain_ms(self) -> float:
        """What the fix would win on this trace."""
        return self.latency_ms - self.projected_ms

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "trace_id": self.trace_id,
            "latency_ms": round(self.latency_ms, 3),
            "projected_ms": round(self.projected_ms, 3),
            "gain_ms": round(self.gain_ms, 3),
        }


def project(trace: Trace, span_ids: Iterable[str], fix: str) -> Projection:
    """The projection of one trace whose fault shows in ``span_ids``."""
    latency = trace.duration_ns / 1e6
    return Projection(
        trace.trace_id or "", latency, latency - removed_ns(trace, span_ids, fix) / 1e6
    )


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(values, 50), 3), "p99_ms": round(percentile(values, 99), 3)}


@dataclass(frozen=True)
class WhatIf:
    """Projection over the fault-on traces, and (once measured) the fix's real latencies."""

    scenario: str
    fix: str
    projections: tuple[Projection, ...]
    fixed_latencies_ms: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: p50/p99 with the fault on, projected, measured, and the gains."""
        on = [p.latency_ms for p in self.projections]
        projected = [p.projected_ms for p in self.projections]
        doc: dict[str, Any] = {
            "scenario": self.scenario,
            "fix": self.fix,
            "traces_on": len(on),
            "on": _percentiles(on),
            "projected": _percentiles(projected),
        }
        doc["projected_gain"] = {k: round(doc["on"][k] - doc["projected"][k], 3) for k in doc["on"]}
        if self.fixed_latencies_ms:
            doc["traces_fixed"] = len(self.fixed_latencies_ms)
            doc["measured"] = _percentiles(self.fixed_latencies_ms)
            doc["measured_gain"] = {
                k: round(doc["on"][k] - doc["measured"][k], 3) for k in doc["on"]
            }
            doc["projection_error"] = {
                k: round(doc["projected_gain"][k] - doc["measured_gain"][k], 3) for k in doc["on"]
            }
        return doc


def summary(doc: dict[str, Any]) -> str:
    """A few lines for people, from :meth:`WhatIf.to_dict`."""
    lines = [
        f"what-if for {doc['scenario']} (fix: {doc['fix']}), {doc['traces_on']} trace(s) "
        "with the fault on:"
    ]
    for key in ("p50_ms", "p99_ms"):
        label = key.removesuffix("_ms")
        line = (
            f"  {label}: {doc['on'][key]:.1f} ms on -> projected {doc['projected'][key]:.1f} ms "
            f"(gain {doc['projected_gain'][key]:.1f} ms)"
        )
        if "measured" in doc:
            line += (
                f"; measured after the fix {doc['measured'][key]:.1f} ms "
                f"(gain {doc['measured_gain'][key]:.1f} ms, projection off by "
                f"{doc['projection_error'][key]:+.1f} ms)"
            )
        lines.append(line)
    return "\n".join(lines)
