"""Exercises: start one on a seeded hidden scenario, grade submissions, list attempts, stop.

The same functions serve the CLI (``tracelab exercise ...``) and the console
(``/api/exercise``): the record is the stack's :class:`~tracelab.workshop.store.Store`,
so a learner may submit from either and the leader sees both.
"""

from __future__ import annotations

import os
import random
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tracelab.console.settings import default_workshop_dir
from tracelab.scenarios.admin import ScenarioAdmin
from tracelab.scenarios.traffic import Answer, Traffic
from tracelab.shapes.backends import BackendClient
from tracelab.workshop import whatif
from tracelab.workshop.catalogue import Entry, entry, names
from tracelab.workshop.grading import Diagnosis, fetch_trace, grade
from tracelab.workshop.store import NoSession, Session, Store, Submission


def workshop_dir(run_dir: Path) -> Path:
    """Where the stack at ``run_dir`` records exercises (``TRACELAB_WORKSHOP_DIR`` wins)."""
    return default_workshop_dir(os.environ) or run_dir / "workshop"


def pick(seed: int, pool: Sequence[str] | None = None) -> str:
    """The scenario an exercise with ``seed`` switches on (from ``pool``, default: all)."""
    chosen = sorted(pool or names())
    for name in chosen:
        entry(name)
    return random.Random(seed).choice(chosen)


def start_exercise(
    store: Store, admin: ScenarioAdmin, seed: int | None = None, pool: Sequence[str] = ()
) -> Session:
    """Switch on the seed's scenario and record the exercise (its name stays in the record)."""
    seed = secrets.randbelow(2**31) if seed is None else seed
    name = pick(seed, pool)
    params = dict(entry(name).defaults)
    session = store.start(
        "exercise", seed, {"scenario": name, "params": params, "pool": list(pool)}
    )
    try:
        admin.switch(name, True, params)
    except BaseException:
        store.stop(session.id, {"error": "the scenario could not be switched on"})
        raise
    store.switched_on(session.id, name, params)
    return session


def submit(
    store: Store, raw: Mapping[str, Any], client: BackendClient, backend: str = "jaeger"
) -> dict[str, Any]:
    """Grade and record one diagnosis (``raw``: the JSON body or the CLI's options).

    :class:`~tracelab.workshop.grading.InvalidDiagnosis` for bad input,
    :class:`~tracelab.workshop.store.NoSession` when nothing runs.
    """
    diagnosis = Diagnosis.parse(raw)
    session = store.current()
    if session is None:
        raise NoSession("no exercise or game day is running: the leader starts one")
    result = grade(diagnosis, store.switches(session.id), client, backend)
    graded_against = result.pop("_graded_against")
    saved = store.add_submission(
        session.id,
        diagnosis.learner,
        diagnosis.to_dict(),
        result["correct"],
        graded_against,
        result,
    )
    return {"submission": saved.id, "session": session.id, "learner": diagnosis.learner, **result}


def _learners(
    submissions: Sequence[Submission], on_at: Callable[[Submission], float | None]
) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for sub in submissions:
        row = rows.setdefault(
            sub.learner,
            {"learner": sub.learner, "attempts": 0, "correct": False, "time_to_correct_s": None},
        )
        row["attempts"] += 1
        if sub.correct and not row["correct"]:
            row["correct"] = True
            started = on_at(sub)
            row["time_to_correct_s"] = (
                round(sub.submitted_at - started, 1) if started is not None else None
            )
            row["attempts_to_correct"] = row["attempts"]
    return list(rows.values())


def status(store: Store, session: Session | None = None) -> dict[str, Any]:
    """The leader's view: every learner's attempts, correctness and time to correct diagnosis.

    The scenario is named only once the session is stopped (the leader's
    screen is often the room's).
    """
    session = session or store.latest()
    if session is None:
        raise NoSession("no exercise or game day has run on this stack")
    switches = store.switches(session.id)
    submissions = store.submissions(session.id)

    def on_at(sub: Submission) -> float | None:
        return sub.grade.get("fault_on_at") or (switches[0].on_at if switches else None)

    doc: dict[str, Any] = {
        "session": {
            "id": session.id,
            "kind": session.kind,
            "seed": session.seed,
            "started_at": session.started_at,
            "stopped_at": session.stopped_at,
            "running": session.running,
        },
        "learners": _learners(submissions, on_at),
        "submissions": [
            {
                "id": s.id,
                "learner": s.learner,
                "at": s.submitted_at,
                "correct": s.correct,
                "answer": dict(s.answer),
                "fields": {k: v["ok"] for k, v in s.grade.get("fields", {}).items()},
            }
            for s in submissions
        ],
    }
    if not session.running:
        doc["answer"] = {
            "plan": dict(session.plan),
            "switches": [
                {"scenario": s.scenario, "on_at": s.on_at, "off_at": s.off_at} for s in switches
            ],
        }
        doc["result"] = dict(session.result or {})
    return doc


def _drive(traffic: Traffic, scenario: Entry, samples: int) -> list[Answer]:
    if scenario.concurrency > 1:
        return traffic.burst(scenario.journey, samples, scenario.concurrency)
    return [traffic.journey(scenario.journey, 1 + i % 4) for i in range(samples)]


def _traces(client: BackendClient, answers: Sequence[Answer], settle_s: float) -> list:
    time.sleep(settle_s)  # the services export in batches
    found = [fetch_trace(client, a.trace_id, timeout=5.0) for a in answers if a.trace_id]
    return [trace for trace in found if trace is not None]


def measure_whatif(
    scenario: Entry,
    params: Mapping[str, Any],
    admin: ScenarioAdmin,
    traffic: Traffic,
    client: BackendClient,
    samples: int = 12,
    settle_s: float = 6.0,
) -> whatif.WhatIf:
    """Project the fix from ``samples`` traces with the fault on, then measure it with it off.

    Leaves the scenario off (the fix).
    """
    admin.switch(scenario.name, True, params)
    try:
        on_answers = _drive(traffic, scenario, samples)
    finally:
        admin.switch(scenario.name, False)
    off_answers = _drive(traffic, scenario, samples)
    projections = []
    merged = {**scenario.defaults, **params}
    for trace in _traces(client, on_answers, settle_s):
        verdict = scenario.signature.judge(trace, merged)
        if verdict.present:
            spans = verdict.findings[0].spans
            projections.append(whatif.project(trace, spans, scenario.answer.fix))
    fixed = [t.duration_ns / 1e6 for t in _traces(client, off_answers, 0.0)]
    return whatif.WhatIf(scenario.name, scenario.answer.fix, tuple(projections), tuple(fixed))


def stop_exercise(
    store: Store,
    admin: ScenarioAdmin,
    measure: Callable[[Entry, Mapping[str, Any]], whatif.WhatIf] | None = None,
) -> Session:
    """Switch the exercise's fault off (measuring the what-if first, if asked) and reveal it."""
    session = store.current()
    if session is None or session.kind != "exercise":
        raise NoSession("no exercise is running")
    name, params = session.plan["scenario"], session.plan.get("params", {})
    result: dict[str, Any] = {"scenario": name, "summary": entry(name).summary}
    try:
        if measure is not None:
            result["whatif"] = measure(entry(name), params).to_dict()
    finally:
        admin.switch(name, False)
        store.switched_off(session.id, name)
    return store.stop(session.id, result)
