"""Grade a learner's diagnosis: each field against the answer key, and the trace by the detectors.

A diagnosis names the service at fault, the operation (span) where it shows,
the cause (an id from the catalogue's list) and a trace id. The first three
are compared normalised against the *sets* of the answer key; the trace must
have started while the fault was on and must show the scenario's signature
(:meth:`tracelab.scenarios.signatures.Signature.judge`, the detectors of
``tracelab analyze``). The grade says per field what was right, what not and
why; a correct diagnosis also gets the reveal: the trace with the finding's
spans to highlight in the console.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from tracelab.shapes.backends import BackendClient, BackendError
from tracelab.shapes.ids import normalise_trace_id
from tracelab.shapes.model import Trace
from tracelab.workshop import whatif
from tracelab.workshop.catalogue import (
    Entry,
    causes,
    entry,
    names,
    normalise_name,
    normalise_operation,
)
from tracelab.workshop.store import Switch

LEARNER = re.compile(r"^[\w .@'-]{1,64}$")
# Clocks of the stack and of the switching process agree to about this (seconds).
CLOCK_SLACK_S = 1.0


class InvalidDiagnosis(ValueError):
    """A diagnosis that cannot be graded (a missing field, a cause not in the list)."""


@dataclass(frozen=True)
class Diagnosis:
    """What a learner submits."""

    learner: str
    service: str
    operation: str
    cause: str
    trace_id: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Diagnosis:
        """Checked fields from a JSON body or CLI options; :class:`InvalidDiagnosis` says which."""
        values = {}
        for field in ("learner", "service", "operation", "cause", "trace_id"):
            value = raw.get(field)
            if field == "trace_id" and value is None:
                value = raw.get("trace")
            if not isinstance(value, str) or not value.strip():
                raise InvalidDiagnosis(f"{field} is missing: give it as text")
            if len(value) > 200:
                raise InvalidDiagnosis(f"{field} is longer than 200 characters")
            values[field] = value.strip()
        if not LEARNER.match(values["learner"]):
            raise InvalidDiagnosis(
                "learner must be a name of 1-64 letters, digits, spaces or . @ ' - _"
            )
        try:
            values["trace_id"] = normalise_trace_id(values["trace_id"])
        except ValueError:
            raise InvalidDiagnosis(
                f"{values['trace_id'][:64]!r} is not a trace id (32 hexadecimal digits)"
            ) from None
        cause = normalise_name(values["cause"])
        if cause not in names():
            raise InvalidDiagnosis(
                f"cause {values['cause'][:64]!r} is not in the catalogue; choose one of: "
                + ", ".join(names())
            )
        values["cause"] = cause
        return cls(**values)

    def to_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return asdict(self)


def _field(ok: bool, given: str, why: str) -> dict[str, Any]:
    return {"ok": ok, "given": given, "why": why}


def grade_fields(diagnosis: Diagnosis, scenario: Entry) -> dict[str, dict[str, Any]]:
    """Service, operation and cause against the answer key (sets, compared normalised)."""
    key = scenario.answer
    service_ok = normalise_name(diagnosis.service) in key.services
    operation_ok = normalise_operation(diagnosis.operation) in key.operations
    cause_ok = diagnosis.cause == key.cause
    summary = next(c["summary"] for c in causes() if c["id"] == diagnosis.cause)
    return {
        "service": _field(
            service_ok,
            diagnosis.service,
            f"the fault lives in {diagnosis.service}"
            if service_ok
            else f"{diagnosis.service} is not where the fault lives: it only shows the effect, "
            "or is not involved",
        ),
        "operation": _field(
            operation_ok,
            diagnosis.operation,
            f"the fault shows in {diagnosis.operation}"
            if operation_ok
            else f"{diagnosis.operation} is not where the fault shows: look for the span the "
            "detectors point at",
        ),
        "cause": _field(
            cause_ok,
            diagnosis.cause,
            f"right: {summary}"
            if cause_ok
            else f"not the cause: {diagnosis.cause} ({summary}) would leave another signature",
        ),
    }


def trace_start_s(trace: Trace) -> float:
    """When the trace began (Unix seconds)."""
    return min(span.start_ns for span in trace) / 1e9


def fetch_trace(client: BackendClient, trace_id: str, timeout: float = 10.0) -> Trace | None:
    """The trace from the backend, waiting a little for spans still in flight; None if absent."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            trace = client.get_trace(trace_id)
        except BackendError:
            trace = None
        if trace is not None and len(trace):
            return trace
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.5)


def _clock(moment: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(moment))


def faults_at(switches: Sequence[Switch], moment: float) -> list[Switch]:
    """The switches that were on at ``moment`` (within the clocks' slack)."""
    return [
        s
        for s in switches
        if s.on_at - CLOCK_SLACK_S <= moment
        and (s.off_at is None or moment <= s.off_at + CLOCK_SLACK_S)
    ]


def reveal_link(trace_id: str, spans: Sequence[str], backend: str) -> str:
    """The console's trace view with ``spans`` highlighted."""
    query = urlencode({"backend": backend, "highlight": ",".join(spans)}, safe=",")
    return f"#/trace/{trace_id}?{query}"


def grade(
    diagnosis: Diagnosis,
    switches: Sequence[Switch],
    client: BackendClient,
    backend: str = "jaeger",
    trace: Trace | None = None,
) -> dict[str, Any]:
    """The grade of ``diagnosis`` against the faults of ``switches`` (one: an exercise).

    The fault graded against is the one on when the trace began (of two on,
    the one the learner named, else the one the trace shows). ``trace``: the
    trace already fetched (else it is fetched from ``client``).
    """
    trace = trace if trace is not None else fetch_trace(client, diagnosis.trace_id)
    if trace is None:
        return _refused(
            diagnosis,
            switches,
            f"{backend} holds no trace {diagnosis.trace_id}: check the id (copy it from the "
            "trace view)",
        )
    began = trace_start_s(trace)
    candidates = faults_at(switches, began)
    if not candidates:
        return _refused(
            diagnosis,
            switches,
            f"this trace began at {_clock(began)}, when no fault of this session was on: "
            "a trace from before (or after) it cannot show it",
        )
    verdicts = {}
    for switch in candidates:
        scenario = entry(switch.scenario)
        verdicts[switch.scenario] = scenario.signature.judge(
            trace, {**scenario.defaults, **switch.params}, client
        )
    named = [s for s in candidates if s.scenario == diagnosis.cause]
    shown = [s for s in candidates if verdicts[s.scenario].present]
    chosen = (named or shown or candidates)[0]
    scenario, verdict = entry(chosen.scenario), verdicts[chosen.scenario]
    fields = grade_fields(diagnosis, scenario)
    fields["trace"] = _field(
        verdict.present,
        diagnosis.trace_id,
        f"the trace shows the finding ({verdict.detail})"
        if verdict.present
        else f"this trace does not show the finding: {verdict.detail}",
    )
    correct = all(f["ok"] for f in fields.values())
    result: dict[str, Any] = {
        "correct": correct,
        "fields": fields,
        "scenario": chosen.scenario if correct else None,
        "fault_on_at": chosen.on_at,
    }
    if correct:
        spans = list(verdict.findings[0].spans)
        result["reveal"] = {
            "scenario": scenario.name,
            "summary": scenario.summary,
            "trace_id": diagnosis.trace_id,
            "finding": verdict.findings[0].to_dict(),
            "spans": spans,
            "link": reveal_link(diagnosis.trace_id, spans, backend),
            "whatif": whatif.project(trace, spans, scenario.answer.fix).to_dict(),
        }
    result["_graded_against"] = chosen.scenario
    return result


def _refused(diagnosis: Diagnosis, switches: Sequence[Switch], why: str) -> dict[str, Any]:
    """The trace proves nothing: the fields are still graded where only one fault can be meant."""
    faults = {s.scenario for s in switches}
    if len(faults) == 1:
        fields = grade_fields(diagnosis, entry(faults.pop()))
    else:
        fields = {
            name: _field(False, getattr(diagnosis, name), "not graded: the trace proves nothing")
            for name in ("service", "operation", "cause")
        }
    fields["trace"] = _field(False, diagnosis.trace_id, why)
    return {"correct": False, "fields": fields, "scenario": None, "_graded_against": None}


def explain(result: Mapping[str, Any]) -> str:
    """A grade for people: one line per field, then the reveal."""
    lines = ["CORRECT" if result["correct"] else "NOT YET"]
    for name, field in result["fields"].items():
        mark = "ok " if field["ok"] else "no "
        lines.append(f"  {mark}{name:<9} {field['given']}: {field['why']}")
    reveal = result.get("reveal")
    if reveal:
        lines.append(f"  the fault: {reveal['scenario']} ({reveal['summary']})")
        lines.append(f"  see it: console {reveal['link']}")
        gain = reveal["whatif"]
        lines.append(
            f"  the fix would take this trace from {gain['latency_ms']:.1f} ms to "
            f"{gain['projected_ms']:.1f} ms"
        )
    return "\n".join(lines)
