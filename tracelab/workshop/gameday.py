"""``tracelab gameday``: faults come and go on a seeded timeline while load runs; then a report.

The timeline (:func:`tracelab.workshop.timeline.timeline`) is the answer key,
recorded with the times each switch really happened. Learners submit through
the exercise path (console or ``tracelab exercise submit``); each submission
is graded against the fault that was on when its trace began. Whatever ends
the game (its end, Ctrl-C, an error), every fault of the timeline is
switched off and the report is written.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracelab.scenarios.admin import AdminError, ScenarioAdmin
from tracelab.scenarios.traffic import Traffic
from tracelab.workshop.catalogue import entry
from tracelab.workshop.store import Session, Store
from tracelab.workshop.timeline import Bounds, Event, timeline

Echo = Callable[[str], None]
LOAD_JOURNEYS = ("dashboard", "dashboard", "profile", "login")


class Load:
    """Background journeys through the frontend: ``workers`` loops, ``rate`` requests/s in all."""

    def __init__(self, frontend: str, rate: float = 4.0, workers: int = 4, seed: int = 0) -> None:
        self.frontend = frontend
        self.interval = workers / rate
        self.workers = workers
        self.seed = seed
        self.sent = 0
        self.failed = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _loop(self, index: int) -> None:
        rng = random.Random(self.seed * 100 + index)
        traffic = Traffic(self.frontend)
        try:
            while not self._stop.is_set():
                try:
                    traffic.journey(rng.choice(LOAD_JOURNEYS), 1 + rng.randrange(8))
                    self.sent += 1
                except Exception:  # load goes on whatever one answer did
                    self.failed += 1
                self._stop.wait(self.interval)
        finally:
            traffic.close()

    def start(self) -> None:
        """Start the loops."""
        for index in range(self.workers):
            thread = threading.Thread(target=self._loop, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the loops and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=20)


@dataclass(frozen=True)
class _Action:
    at_s: float
    on: bool
    event: Event


def _actions(events: Sequence[Event]) -> list[_Action]:
    actions = [_Action(e.on_s, True, e) for e in events] + [
        _Action(e.off_s, False, e) for e in events
    ]
    # At the same moment, switch off before switching on.
    return sorted(actions, key=lambda a: (a.at_s, a.on))


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


class GameDay:
    """One game: timeline, switches, load, progress, report."""

    def __init__(
        self,
        store: Store,
        admin: ScenarioAdmin,
        seed: int,
        duration_s: float,
        *,
        bounds: Bounds | None = None,
        scenarios: Sequence[str] = (),
        load: Load | None = None,
        echo: Echo = print,
        reveal: bool = False,
        progress_every_s: float = 10.0,
    ) -> None:
        self.store = store
        self.admin = admin
        self.seed = seed
        self.duration_s = duration_s
        self.bounds = bounds or Bounds.for_duration(duration_s)
        self.events = timeline(seed, duration_s, self.bounds, scenarios or None)
        self.load = load
        self.echo = echo
        self.reveal = reveal
        self.progress_every_s = progress_every_s
        self.on: set[str] = set()

    def _progress(self, elapsed: float, done: int, total: int) -> None:
        phase = max((a.phase for a in self.events if a.on_s <= elapsed), default=0)
        phases = max((e.phase for e in self.events), default=0)
        if self.on:
            what = ", ".join(sorted(self.on)) if self.reveal else f"{len(self.on)} fault(s) on"
        else:
            what = "nothing on"
        sent = f", {self.load.sent} requests sent" if self.load else ""
        self.echo(
            f"[phase {phase}/{phases}] {_clock(elapsed)} elapsed, "
            f"{_clock(self.duration_s - elapsed)} left: {what}; "
            f"{total - done} switch(es) to go{sent}"
        )

    def _switch(self, session: Session, action: _Action) -> None:
        name = action.event.scenario
        if action.on:
            params = dict(entry(name).defaults)
            self.admin.switch(name, True, params)
            self.store.switched_on(session.id, name, params)
            self.on.add(name)
        else:
            self.admin.switch(name, False)
            self.store.switched_off(session.id, name)
            self.on.discard(name)

    def _all_off(self) -> None:
        for name in {e.scenario for e in self.events}:
            try:
                self.admin.switch(name, False)
            except AdminError as exc:
                self.echo(f"warning: could not switch {name} off: {exc}")
        self.on.clear()

    def run(self, out_dir: Path | None = None) -> dict[str, Any]:
        """Play the game; return the report (also written as JSON and Markdown)."""
        plan = {
            "duration_s": self.duration_s,
            "bounds": vars(self.bounds),
            "timeline": [e.to_dict() for e in self.events],
        }
        session = self.store.start("gameday", self.seed, plan)
        self.echo(
            f"game day {session.id}: seed {self.seed}, {_clock(self.duration_s)} long, "
            f"{len({e.phase for e in self.events})} phase(s); learners submit with "
            "`tracelab exercise submit` or the console's Exercise view"
        )
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _interrupt) if main else None
        outcome = "finished"
        actions = _actions(self.events)
        started = time.monotonic()
        try:
            if self.load:
                self.load.start()
            done, last_progress = 0, -self.progress_every_s
            while True:
                elapsed = time.monotonic() - started
                while done < len(actions) and actions[done].at_s <= elapsed:
                    self._switch(session, actions[done])
                    done += 1
                if elapsed - last_progress >= self.progress_every_s:
                    self._progress(elapsed, done, len(actions))
                    last_progress = elapsed
                if elapsed >= self.duration_s and done == len(actions):
                    break
                upcoming = actions[done].at_s if done < len(actions) else self.duration_s
                time.sleep(max(0.05, min(1.0, upcoming - elapsed)))
        except KeyboardInterrupt:
            outcome = "interrupted"
            self.echo("interrupted: switching every fault off")
        except Exception as exc:
            outcome = f"failed: {exc}"
            self.echo(f"error: {exc}; switching every fault off")
            raise
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous)
            self._all_off()
            if self.load:
                self.load.stop()
            stopped = self.store.stop(session.id, {"outcome": outcome})
            report = build_report(self.store, stopped)
            paths = write_report(report, out_dir or self.store.directory / stopped.id)
            report["files"] = [str(p) for p in paths]
            self.store.set_result(stopped.id, {"outcome": outcome, "report": report["files"]})
            self.echo(f"report: {', '.join(report['files'])}")
        return report


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def build_report(store: Store, session: Session) -> dict[str, Any]:
    """Which faults were on when, which learners found which, time to detect."""
    switches = store.switches(session.id)
    submissions = store.submissions(session.id)
    started = session.started_at
    faults = []
    for switch in switches:
        found = {}
        for sub in submissions:
            if (
                sub.correct
                and sub.scenario == switch.scenario
                and sub.grade.get("fault_on_at") == switch.on_at
                and sub.learner not in found
            ):
                found[sub.learner] = round(sub.submitted_at - switch.on_at, 1)
        faults.append(
            {
                "scenario": switch.scenario,
                "on_s": round(switch.on_at - started, 1),
                "off_s": round((switch.off_at or session.stopped_at or started) - started, 1),
                "found_by": [{"learner": k, "time_to_detect_s": v} for k, v in found.items()],
            }
        )
    learners: dict[str, dict[str, Any]] = {}
    for sub in submissions:
        row = learners.setdefault(
            sub.learner, {"learner": sub.learner, "attempts": 0, "correct": 0, "found": []}
        )
        row["attempts"] += 1
        row["correct"] += sub.correct
    for fault in faults:
        for hit in fault["found_by"]:
            learners[hit["learner"]]["found"].append(
                {"scenario": fault["scenario"], "time_to_detect_s": hit["time_to_detect_s"]}
            )
    return {
        "session": session.id,
        "seed": session.seed,
        "outcome": (session.result or {}).get("outcome", "finished"),
        "started_at": session.started_at,
        "stopped_at": session.stopped_at,
        "duration_s": session.plan.get("duration_s"),
        "planned": session.plan.get("timeline", []),
        "faults": faults,
        "learners": list(learners.values()),
        "submissions": len(submissions),
    }


def markdown(report: dict[str, Any]) -> str:
    """The report for people."""
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(report["started_at"]))
    lines = [
        f"# Game day {report['session']}",
        "",
        f"Seed {report['seed']}, {_clock(report['duration_s'] or 0)} planned, started {when}, "
        f"{report['outcome']}; {report['submissions']} submission(s).",
        "",
        "## Faults (the answer key)",
        "",
        "| # | fault | on | off | held | found by (time to detect) |",
        "|---|---|---|---|---|---|",
    ]
    for i, fault in enumerate(report["faults"], 1):
        found = ", ".join(
            f"{hit['learner']} ({hit['time_to_detect_s']:.0f} s)" for hit in fault["found_by"]
        )
        lines.append(
            f"| {i} | {fault['scenario']} | {_clock(fault['on_s'])} | {_clock(fault['off_s'])} | "
            f"{fault['off_s'] - fault['on_s']:.0f} s | {found or 'nobody'} |"
        )
    lines += [
        "",
        "## Learners",
        "",
        "| learner | attempts | correct | found |",
        "|---|---|---|---|",
    ]
    for row in report["learners"]:
        found = ", ".join(
            f"{hit['scenario']} in {hit['time_to_detect_s']:.0f} s" for hit in row["found"]
        )
        lines.append(
            f"| {row['learner']} | {row['attempts']} | {row['correct']} | {found or '-'} |"
        )
    if not report["learners"]:
        lines.append("| (nobody submitted) | | | |")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """``report.json`` and ``report.md`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text(markdown(report))
    return [md_path, json_path]
