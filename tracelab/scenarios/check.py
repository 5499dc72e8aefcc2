"""``tracelab scenario check``: drive traffic, fetch traces, judge the signature.

With the scenario ON every judged trace (or at least one, for faults that
need contention or chance) must match the scenario's golden shape and show
its measured signature: the finding of a trace detector
(:mod:`tracelab.scenarios.signatures`). With it OFF, the journey's own golden shape must
match again, the scenario shape must not (where it can tell), and the
measure must find nothing. A check always leaves the scenario OFF.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.common.scenarios import CATALOGUE
from tracelab.scenarios.admin import ScenarioAdmin
from tracelab.scenarios.signatures import SIGNATURES, Verdict
from tracelab.scenarios.spec import CheckSpec
from tracelab.scenarios.targets import Targets
from tracelab.scenarios.traffic import Answer, Traffic
from tracelab.shapes.backends import JaegerClient, TraceNotFound
from tracelab.shapes.matcher import match
from tracelab.shapes.model import Trace
from tracelab.shapes.shape import Shape, load_shape

Echo = Callable[[str], None]


@dataclass(frozen=True)
class TraceVerdict:
    """One judged trace."""

    trace_id: str
    shape_ok: bool
    baseline_ok: bool
    finding: Verdict
    report: str = ""


@dataclass
class StateResult:
    """The outcome of one state (on or off) of a check."""

    scenario: str
    state: str
    passed: bool = False
    problems: list[str] = field(default_factory=list)
    verdicts: list[TraceVerdict] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def summary(self) -> str:
        """One line per judged trace plus every problem."""
        head = f"{self.scenario} {self.state.upper()}: {'PASS' if self.passed else 'FAIL'}"
        calls = len(self.statuses)
        lines = [head, f"  statuses: {sorted(set(self.statuses))} over {calls} call(s)"]
        for v in self.verdicts:
            lines.append(
                f"  trace {v.trace_id}: scenario shape {'matches' if v.shape_ok else 'differs'}, "
                f"journey shape {'matches' if v.baseline_ok else 'differs'}; {v.finding.detail}"
            )
        lines += [f"  problem: {p}" for p in self.problems]
        return "\n".join(lines)


class Checker:
    """Runs scenario checks against one running lab."""

    def __init__(self, targets: Targets, echo: Echo | None = None, timeout: float = 30.0) -> None:
        self.targets = targets
        self.admin = ScenarioAdmin(targets.services, targets.token)
        self.traffic = Traffic(targets.frontend)
        self.jaeger = JaegerClient(targets.jaeger)
        self.echo: Echo = echo or (lambda _m: None)
        self.timeout = timeout

    def close(self) -> None:
        """Close every client."""
        self.admin.close()
        self.traffic.close()
        self.jaeger.close()

    def check(self, name: str, states: tuple[str, ...] = ("on", "off")) -> list[StateResult]:
        """Check scenario ``name`` in each of ``states``; it is OFF afterwards."""
        spec = CheckSpec.of(CATALOGUE.get(name))
        results = []
        try:
            for state in states:
                results.append(self._check_state(spec, state == "on"))
        finally:
            self.admin.switch(name, False)
        return results

    def _drive(self, spec: CheckSpec) -> list[Answer]:
        if spec.samples == 1 and spec.concurrency == 1:
            return [self.traffic.journey(spec.journey, 4)]
        return self.traffic.burst(spec.journey, spec.samples, spec.concurrency)

    def _check_state(self, spec: CheckSpec, on: bool) -> StateResult:
        result = StateResult(spec.scenario, "on" if on else "off")
        self.echo(f"{spec.scenario}: {result.state} - driving {spec.samples}x {spec.journey}")
        if spec.warmup:
            self.traffic.burst(spec.journey, spec.warmup, spec.concurrency)
        self.admin.switch(spec.scenario, on, spec.params)
        answers = self._drive(spec)
        # Traces are judged with the scenario already off: nothing else is driven meanwhile.
        self.admin.switch(spec.scenario, False)
        result.statuses = [a.status for a in answers]
        judged = self._judged(spec, on, answers, result)
        params = CATALOGUE.get(spec.scenario).params(spec.params)
        shape, baseline = load_shape(spec.shape_path), load_shape(spec.baseline_path)
        for answer in judged:
            verdict = self._verdict(spec, on, answer, shape, baseline, params)
            if verdict is None:
                result.problems.append(f"trace {answer.trace_id} never reached Jaeger")
                continue
            result.verdicts.append(verdict)
        result.problems += _judge(spec, on, result.verdicts)
        result.passed = not result.problems
        return result

    def _judged(
        self, spec: CheckSpec, on: bool, answers: list[Answer], result: StateResult
    ) -> list[Answer]:
        expected = spec.on_status if on else 200
        if on and spec.only_status is not None:
            judged = [a for a in answers if a.status == spec.only_status]
            if not judged:
                result.problems.append(f"no call answered {spec.only_status} while on")
            odd = sorted({a.status for a in answers} - {spec.only_status, 200})
            if odd:
                result.problems.append(f"unexpected statuses {odd}")
            return judged[:3]
        wrong = sorted({a.status for a in answers if a.status != expected})
        if wrong:
            result.problems.append(f"expected every call to answer {expected}, got {wrong}")
        return answers if spec.mode == "any" else answers[:3]

    def _fetch(
        self, trace_id: str, shape: Shape, min_spans: int, settle: bool = True
    ) -> Trace | None:
        """The trace once it matches ``shape``, else once it stops growing (or None).

        Without ``settle`` the trace is returned as soon as it has ``min_spans``.
        """
        deadline = time.monotonic() + self.timeout
        try:
            trace = self.jaeger.wait_for_trace(trace_id, min_spans=min_spans, timeout=self.timeout)
        except TraceNotFound:
            return None
        if not settle:
            return trace
        last = len(trace)
        quiet_since = time.monotonic()
        while not match(shape, trace).ok and time.monotonic() < deadline:
            time.sleep(0.25)
            trace = self.jaeger.get_trace(trace_id) or trace
            if len(trace) != last:
                last, quiet_since = len(trace), time.monotonic()
            elif time.monotonic() - quiet_since > 6.0:  # longer than one export interval
                break
        return trace

    def _verdict(
        self,
        spec: CheckSpec,
        on: bool,
        answer: Answer,
        shape: Shape,
        baseline: Shape,
        params: Mapping[str, Any],
    ) -> TraceVerdict | None:
        if answer.trace_id is None:
            return None
        min_spans = spec.min_spans if on else 1
        settle = not (on and spec.mode == "any")
        trace = self._fetch(answer.trace_id, shape if on else baseline, min_spans, settle)
        if trace is None:
            return None
        shape_result, baseline_result = match(shape, trace), match(baseline, trace)
        report = (shape_result if on else baseline_result).report()
        finding = SIGNATURES[spec.scenario].judge(trace, params, self.jaeger)
        return TraceVerdict(answer.trace_id, shape_result.ok, baseline_result.ok, finding, report)


def _judge(spec: CheckSpec, on: bool, verdicts: list[TraceVerdict]) -> list[str]:
    if not verdicts:
        return ["no trace could be judged"]
    if on:
        good = [v for v in verdicts if v.shape_ok and v.finding.present]
        if spec.mode == "any" and good:
            return []
        if spec.mode == "all" and len(good) == len(verdicts):
            return []
        bad = next(v for v in verdicts if not (v.shape_ok and v.finding.present))
        why = "signature not measured" if bad.shape_ok else "scenario shape differs"
        return [f"{why} in trace {bad.trace_id}: {bad.finding.detail}\n{bad.report}"]
    problems = []
    for v in verdicts:
        if not v.baseline_ok:
            problems.append(f"journey shape differs in trace {v.trace_id}\n{v.report}")
        if spec.discriminating and v.shape_ok:
            problems.append(f"scenario shape still matches trace {v.trace_id}")
        if v.finding.present:
            problems.append(f"signature still measured in {v.trace_id}: {v.finding.detail}")
    return problems
