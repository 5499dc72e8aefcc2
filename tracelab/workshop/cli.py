"""``tracelab exercise start|submit|status|stop|whatif`` and ``tracelab gameday``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from tracelab.scenarios.admin import AdminError, ScenarioAdmin
from tracelab.scenarios.targets import Targets
from tracelab.scenarios.traffic import Traffic
from tracelab.shapes.backends import JaegerClient
from tracelab.stack.errors import StackError
from tracelab.workshop import whatif
from tracelab.workshop.catalogue import UnknownScenario, entry, names
from tracelab.workshop.grading import InvalidDiagnosis, explain
from tracelab.workshop.session import (
    measure_whatif,
    start_exercise,
    status,
    stop_exercise,
    submit,
    workshop_dir,
)
from tracelab.workshop.store import NoSession, SessionRunning, Store

T = TypeVar("T")
SCENARIO = click.Choice(names())


def _guard(action: Callable[[], T]) -> T:
    try:
        return action()
    except (
        AdminError,
        StackError,
        NoSession,
        SessionRunning,
        UnknownScenario,
        InvalidDiagnosis,
    ) as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)


class _Lab:
    """The recorded local stack's targets, workshop store and clients."""

    def __init__(self) -> None:
        from tracelab.stack.runner import Stack

        stack = Stack()
        info = _guard(lambda: stack.info() or _no_stack())
        self.targets = Targets.from_urls(info.urls, log_dir=info.log_dir, token=info.admin_token)
        self.store = Store(workshop_dir(info.run_dir))
        self.admin = ScenarioAdmin(self.targets.services, self.targets.token)
        self.jaeger = JaegerClient(self.targets.jaeger)

    def traffic(self) -> Traffic:
        return Traffic(self.targets.frontend)


def _no_stack() -> Any:
    raise StackError("no local stack is recorded: start one with `tracelab up`")


def _echo_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=2, default=str))


@click.group("exercise")
def exercise() -> None:
    """Exercises: a hidden fault, learners' diagnoses graded against its answer key."""


@exercise.command("start")
@click.option("--seed", type=int, default=None, help="Seed of the pick (default: random).")
@click.option(
    "--scenario", "pool", multiple=True, type=SCENARIO, help="Pick among these only (repeatable)."
)
def start(seed: int | None, pool: tuple[str, ...]) -> None:
    """Switch on a scenario the learners are not told, and record the exercise."""
    lab = _Lab()
    session = _guard(lambda: start_exercise(lab.store, lab.admin, seed, pool))
    click.echo(
        f"exercise {session.id} started (seed {session.seed}); a fault is on. Learners: find it, "
        "then `tracelab exercise submit` or the console's Exercise view (#/exercise)."
    )


@exercise.command("submit")
@click.option("--learner", required=True, help="Your name.")
@click.option("--service", required=True, help="The service at fault.")
@click.option("--operation", required=True, help="The span/operation where it shows.")
@click.option(
    "--cause", required=True, type=click.Choice(names()), help="The cause, from the catalogue."
)
@click.option("--trace", "trace_id", required=True, help="The trace id that proves it.")
@click.option("--json", "as_json", is_flag=True, help="Print the grade as JSON.")
def submit_command(
    learner: str, service: str, operation: str, cause: str, trace_id: str, as_json: bool
) -> None:
    """Submit a diagnosis; print what was right, what not and why."""
    lab = _Lab()
    raw = {
        "learner": learner,
        "service": service,
        "operation": operation,
        "cause": cause,
        "trace_id": trace_id,
    }
    result = _guard(lambda: submit(lab.store, raw, lab.jaeger))
    if as_json:
        _echo_json(result)
    else:
        click.echo(explain(result))
    sys.exit(0 if result["correct"] else 1)


def _status_text(doc: dict[str, Any]) -> str:
    session = doc["session"]
    state = "running" if session["running"] else "stopped"
    lines = [f"{session['kind']} {session['id']} (seed {session['seed']}): {state}"]
    if "answer" in doc:
        plan = doc["answer"]["plan"]
        if "scenario" in plan:
            lines.append(f"  the fault was: {plan['scenario']}")
        result = doc.get("result") or {}
        if result.get("whatif"):
            lines.append(whatif.summary(result["whatif"]))
        if result.get("report"):
            lines.append(f"  report: {', '.join(result['report'])}")
    if not doc["learners"]:
        lines.append("  no submission yet")
    for row in doc["learners"]:
        verdict = (
            f"correct after {row['attempts_to_correct']} attempt(s), "
            f"{row['time_to_correct_s']} s after the fault went on"
            if row["correct"]
            else "not yet"
        )
        lines.append(f"  {row['learner']:<16} {row['attempts']} attempt(s): {verdict}")
    return "\n".join(lines)


@exercise.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_command(as_json: bool) -> None:
    """Every learner's attempts, correctness and time to correct diagnosis."""
    lab = _Lab()
    doc = _guard(lambda: status(lab.store))
    _echo_json(doc) if as_json else click.echo(_status_text(doc))


@exercise.command("stop")
@click.option(
    "--whatif/--no-whatif",
    "with_whatif",
    default=True,
    show_default=True,
    help="Measure the fix (traffic with the fault on, then off) before revealing.",
)
@click.option("--samples", type=click.IntRange(2, 200), default=12, show_default=True)
def stop(with_whatif: bool, samples: int) -> None:
    """Switch the fault off, reveal it (and measure the fix's gain)."""
    lab = _Lab()
    measure = None
    if with_whatif:
        traffic = lab.traffic()

        def measure(scenario, params):
            return measure_whatif(scenario, params, lab.admin, traffic, lab.jaeger, samples)

    session = _guard(lambda: stop_exercise(lab.store, lab.admin, measure))
    click.echo(_status_text(status(lab.store, session)))


@exercise.command("whatif")
@click.option("--scenario", type=SCENARIO, default=None, help="Default: the exercise's.")
@click.option("--samples", type=click.IntRange(2, 200), default=12, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def whatif_command(scenario: str | None, samples: int, as_json: bool) -> None:
    """Project the fix's latency gain from traces with the fault on, then measure it off.

    The scenario is on while the fault-on traffic runs and off afterwards
    (a running exercise's fault is switched back on).
    """
    lab = _Lab()
    current = lab.store.current()
    running = current.plan.get("scenario") if current and current.kind == "exercise" else None
    name = scenario or running
    if name is None:
        raise click.UsageError("no exercise is running: name the --scenario")
    chosen = entry(name)
    params = current.plan.get("params", {}) if running == name and current else {}
    result = _guard(
        lambda: measure_whatif(chosen, params, lab.admin, lab.traffic(), lab.jaeger, samples)
    )
    if running == name:
        lab.admin.switch(name, True, params)
    doc = result.to_dict()
    _echo_json(doc) if as_json else click.echo(whatif.summary(doc))


@click.command("gameday")
@click.option("--duration", default="45m", show_default=True, help="How long: 45m, 3m, 90s.")
@click.option("--seed", type=int, required=True, help="Seed of the timeline.")
@click.option("--hold", default=None, help="How long a fault stays on, e.g. 3m-8m.")
@click.option("--gap", default=None, help="Gaps with nothing on, e.g. 1m-3m.")
@click.option("--scenario", "pool", multiple=True, type=SCENARIO, help="Among these only.")
@click.option("--rate", type=float, default=4.0, show_default=True, help="Load, requests/s.")
@click.option("--reveal", is_flag=True, help="Name the faults in the progress lines.")
@click.option("--dry-run", is_flag=True, help="Print the timeline and stop.")
def gameday(
    duration: str,
    seed: int,
    hold: str | None,
    gap: str | None,
    pool: tuple[str, ...],
    rate: float,
    reveal: bool,
    dry_run: bool,
) -> None:
    """Turn faults on and off on a seeded timeline under load; write the report at the end."""
    from tracelab.shapes.query import QueryError
    from tracelab.workshop.gameday import GameDay, Load
    from tracelab.workshop.timeline import Bounds, parse_range, parse_seconds, timeline

    try:
        duration_s = parse_seconds(duration, "--duration")
        bounds = Bounds.for_duration(duration_s)
        holds = parse_range(hold, "--hold") if hold else (bounds.hold_min, bounds.hold_max)
        gaps = parse_range(gap, "--gap") if gap else (bounds.gap_min, bounds.gap_max)
        bounds = Bounds(*holds, *gaps)
    except (QueryError, ValueError) as exc:
        raise click.BadParameter(str(exc)) from None
    if dry_run:
        for event in timeline(seed, duration_s, bounds, pool or None):
            span = f"{event.on_s:7.1f}s - {event.off_s:7.1f}s"
            click.echo(f"phase {event.phase}: {event.scenario:<18} {span}")
        return
    lab = _Lab()
    load = Load(lab.targets.frontend, rate=rate, seed=seed)
    game = GameDay(
        lab.store,
        lab.admin,
        seed,
        duration_s,
        bounds=bounds,
        scenarios=pool,
        load=load,
        echo=click.echo,
        reveal=reveal,
    )
    report = _guard(game.run)
    from tracelab.workshop.gameday import markdown

    click.echo(markdown(report))
    if report["outcome"] != "finished":
        sys.exit(1)
