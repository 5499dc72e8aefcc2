"""Each scenario's measured signature: the trace detector's finding it leaves.

A scenario is recognised by one of the detectors of
:mod:`tracelab.analysis.findings`, the same ones ``tracelab analyze`` and the
console run on any trace (never a second copy): the check runs that
detector, with thresholds from the scenario's parameters where they set the
size of the effect, and asks whether one of its findings is the scenario's
(a dominating span that is a SQL query, an error that began in auth...).
The golden shapes (``tests/shapes/scenarios``) give the structure.

The detector, its wording and its thresholds are declared with the scenario
(:mod:`services.common.scenarios`); only the predicates that are code
(:data:`REFINEMENTS`) live here, keyed by the declared objects.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from services.common import scenarios
from services.common.scenarios import Scenario
from tracelab.analysis.findings import Finding, analyze
from tracelab.analysis.service import context_for
from tracelab.shapes.backends import BackendClient, BackendError
from tracelab.shapes.model import Trace

Params = Mapping[str, Any]
Matcher = Callable[[Finding, Trace, Params], bool]


@dataclass(frozen=True)
class Verdict:
    """Whether a trace shows the signature, the numbers that say so, and the findings."""

    present: bool
    detail: str
    findings: tuple[Finding, ...] = ()


def _any(_finding: Finding, _trace: Trace, _params: Params) -> bool:
    return True


def _no_thresholds(_params: Params) -> dict[str, float]:
    return {}


@dataclass(frozen=True)
class Signature:
    """A scenario's signature: ``detector`` finds it, ``matches`` says which finding is it.

    ``wait_s``: how long the evidence may take to reach the backend (the
    other piece of a broken trace is another trace, exported on its own),
    for traces where ``worth_waiting`` says it can still come.
    """

    detector: str
    what: str
    matches: Matcher = _any
    thresholds: Callable[[Params], dict[str, float]] = _no_thresholds
    wait_s: float = 0.0
    worth_waiting: Callable[[Trace], bool] = lambda _trace: False

    def judge(self, trace: Trace, params: Params, client: BackendClient | None = None) -> Verdict:
        """Run the detector on ``trace`` (asking ``client`` where it needs the backend)."""
        ctx = context_for(client, self.thresholds(params))
        waits = client is not None and self.worth_waiting(trace)
        deadline = time.monotonic() + (self.wait_s if waits else 0.0)
        while True:
            try:
                found = analyze(trace, ctx, kinds=[self.detector])
            except BackendError as exc:
                return Verdict(False, f"{self.detector}: the backend could not be asked: {exc}")
            mine = tuple(f for f in found if self.matches(f, trace, params))
            if mine or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        if mine:
            return Verdict(True, f"{self.detector}: {mine[0].title}", mine)
        seen = f" (it found: {'; '.join(f.title for f in found)})" if found else ""
        return Verdict(False, f"no {self.detector} finding {self.what}{seen}")


def _span_of(finding: Finding, trace: Trace, index: int = 0):
    wanted = finding.spans[index]
    return next(span for span in trace if span.span_id == wanted)


def _is_sql(finding: Finding, trace: Trace, _params: Params) -> bool:
    return bool(_span_of(finding, trace).attributes.get("db.system"))


def _on_the_starved_pool(finding: Finding, _trace: Trace, params: Params) -> bool:
    sizes = finding.evidence.get("pool_max") or []
    return any(size <= int(params.get("pool_size", 1)) for size in sizes)


def _injected_in_auth(finding: Finding, _trace: Trace, _params: Params) -> bool:
    evidence = finding.evidence
    return evidence.get("origin_service") == "auth" and "InjectedFault" in evidence.get("cause", "")


def _continued_elsewhere(finding: Finding, _trace: Trace, _params: Params) -> bool:
    return bool(finding.evidence.get("continued_in"))


def _has_a_leaf_server(trace: Trace) -> bool:
    """A server span that called nothing: its calls may be in a trace of their own."""
    return any(span.kind == "server" and not trace.children_of(span) for span in trace)


def _touches_user(finding: Finding, trace: Trace, _params: Params) -> bool:
    client, server = _span_of(finding, trace, 0), _span_of(finding, trace, 1)
    return "user" in (client.service, server.service)


def _is_an_uninstrumented_call(finding: Finding, trace: Trace, _params: Params) -> bool:
    """An HTTP client span with nothing under it: the callee traces nothing (a third party)."""
    span = _span_of(finding, trace)
    attributes = span.attributes
    return (
        span.kind == "client"
        and not trace.children_of(span)
        and not attributes.get("db.system")
        and bool(attributes.get("url.full") or attributes.get("http.request.method"))
    )


@dataclass(frozen=True)
class Refinement:
    """Lab code a declared signature may need: which finding is the scenario's, how long to wait.

    Without one, any finding of the scenario's detector is the scenario's.
    """

    matches: Matcher = _any
    wait_s: float = 0.0
    worth_waiting: Callable[[Trace], bool] = lambda _trace: False


# Keyed by the declared objects themselves (services.common.scenarios), never by name.
REFINEMENTS: dict[Scenario, Refinement] = {
    scenarios.SLOW_QUERY: Refinement(_is_sql),
    scenarios.POOL_STARVATION: Refinement(_on_the_starved_pool),
    scenarios.FLAKY_AUTH: Refinement(_injected_in_auth),
    scenarios.LOST_CONTEXT: Refinement(
        _continued_elsewhere, wait_s=12.0, worth_waiting=_has_a_leaf_server
    ),
    scenarios.BLOCKING_LOOP: Refinement(_touches_user),
    scenarios.SLOW_EXTERNAL: Refinement(_is_an_uninstrumented_call),
}


def signature_of(scenario: Scenario) -> Signature:
    """The judging signature of a declared scenario: its declaration plus any refinement."""
    refinement = REFINEMENTS.get(scenario, Refinement())
    return Signature(
        scenario.signature.detector,
        scenario.signature.what,
        refinement.matches,
        scenario.thresholds,
        refinement.wait_s,
        refinement.worth_waiting,
    )


class _ByName(Mapping[str, Signature]):
    """``{name: Signature}`` over the declaration, read on every lookup."""

    def __getitem__(self, name: str) -> Signature:
        return signature_of(scenarios.CATALOGUE.get(name))

    def __iter__(self) -> Iterator[str]:
        return iter(scenarios.CATALOGUE.names())

    def __len__(self) -> int:
        return len(scenarios.CATALOGUE)


SIGNATURES: Mapping[str, Signature] = _ByName()
