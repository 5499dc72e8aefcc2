"""Exercises and a game day against the real local stack: CLI, console API, store, report.

The learners here are the test: it reads the answer key (the store and the
catalogue) the way a learner would find it in the traces.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tracelab.scenarios.admin import ScenarioAdmin
from tracelab.scenarios.spec import SPECS
from tracelab.scenarios.traffic import Traffic
from tracelab.shapes.backends import JaegerClient
from tracelab.workshop.catalogue import ANSWER_KEYS
from tracelab.workshop.session import pick, status, workshop_dir
from tracelab.workshop.store import Store

pytestmark = pytest.mark.e2e

EXERCISE_SEED = 4
GAMEDAY_SEED = 25  # its first phase is slow-query alone, from ~8 s to ~30 s


def tracelab(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real CLI, in a process of its own (the stack's ports come from the environment)."""
    return subprocess.run(
        [sys.executable, "-m", "tracelab.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ,
        check=False,
    )


@pytest.fixture(scope="module")
def store(stack) -> Store:
    store = Store(workshop_dir(stack.run_dir))
    running = store.current()
    if running is not None:  # a session left by an aborted run
        store.stop(running.id, {"outcome": "abandoned"})
    return store


@pytest.fixture(scope="module")
def admin(stack):
    admin = ScenarioAdmin(stack.urls, stack.admin_token)
    yield admin
    admin.all_off()
    admin.close()


@pytest.fixture(scope="module")
def jaeger(stack):
    with JaegerClient(stack.urls["jaeger"]) as client:
        yield client


def _dashboard_trace(stack, jaeger, min_spans: int = 17) -> str:
    traffic = Traffic(stack.urls["frontend"])
    try:
        answer = traffic.journey("dashboard", 2)
    finally:
        traffic.close()
    assert answer.trace_id, answer
    jaeger.wait_for_trace(answer.trace_id, min_spans=min_spans, timeout=30)
    time.sleep(2.0)  # the last batch of spans
    return answer.trace_id


def _answer(scenario: str, **changes: str) -> dict[str, str]:
    key = ANSWER_KEYS[scenario]
    return {
        "service": sorted(key.services)[0],
        "operation": sorted(key.operations)[0],
        "cause": key.cause,
        **changes,
    }


def _submit_cli(learner: str, trace_id: str, answer: dict[str, str]):
    return tracelab(
        "exercise",
        "submit",
        "--learner",
        learner,
        "--service",
        answer["service"],
        "--operation",
        answer["operation"],
        "--cause",
        answer["cause"],
        "--trace",
        trace_id,
        "--json",
    )


def test_an_exercise_grades_a_right_diagnosis_right_and_two_wrong_ones_wrong(
    stack, store, admin, jaeger
):
    pool = ["slow-query", "sequential-fanout", "n-plus-one"]
    started = tracelab(
        "exercise",
        "start",
        "--seed",
        str(EXERCISE_SEED),
        *[arg for name in pool for arg in ("--scenario", name)],
    )
    assert started.returncode == 0, started.stderr
    session = store.current()
    scenario = session.plan["scenario"]
    assert scenario == pick(EXERCISE_SEED, pool)
    assert admin.states()[scenario]["active"]
    assert scenario not in started.stdout  # the learners are not told

    trace_id = _dashboard_trace(stack, jaeger, SPECS[scenario].min_spans)
    right = _submit_cli("ada", trace_id, _answer(scenario))
    assert right.returncode == 0, right.stdout + right.stderr
    graded = json.loads(right.stdout)
    assert graded["correct"] and all(f["ok"] for f in graded["fields"].values())
    assert graded["reveal"]["spans"]
    assert graded["reveal"]["link"].startswith(f"#/trace/{trace_id}?backend=jaeger&highlight=")

    wrong_service = _submit_cli("bob", trace_id, _answer(scenario, service="frontend"))
    assert wrong_service.returncode == 1
    fields = json.loads(wrong_service.stdout)["fields"]
    assert not fields["service"]["ok"] and fields["cause"]["ok"] and fields["trace"]["ok"]

    # The console: a wrong cause, through its API.
    other = next(name for name in ANSWER_KEYS if name != scenario and name != "lost-context")
    answer = requests.post(
        f"{stack.urls['console']}/api/exercise/submissions",
        json={"learner": "cy", "trace_id": trace_id, **_answer(scenario, cause=other)},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert not answer.json()["correct"]
    assert not answer.json()["fields"]["cause"]["ok"]
    bad = requests.post(
        f"{stack.urls['console']}/api/exercise/submissions",
        json={"learner": "cy", "trace_id": "nope"},
        timeout=10,
    )
    assert bad.status_code == 422 and "service is missing" in bad.json()["error"]["message"]

    leader = tracelab("exercise", "status", "--json")
    doc = json.loads(leader.stdout)
    rows = {row["learner"]: row for row in doc["learners"]}
    assert rows["ada"]["correct"] and rows["ada"]["time_to_correct_s"] > 0
    assert not rows["bob"]["correct"] and not rows["cy"]["correct"]

    stopped = tracelab("exercise", "stop", "--samples", "6", timeout=240)
    assert stopped.returncode == 0, stopped.stderr
    assert f"the fault was: {scenario}" in stopped.stdout
    assert not admin.states()[scenario]["active"]
    whatif = status(store)["result"]["whatif"]
    assert whatif["traces_on"] >= 1 and whatif["traces_fixed"] >= 1
    assert whatif["projected_gain"]["p50_ms"] > 0
    print(stopped.stdout)


def test_a_three_minute_game_day_writes_its_timeline_and_report(stack, store, admin, jaeger):
    game = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracelab.cli",
            "gameday",
            "--duration",
            "3m",
            "--seed",
            str(GAMEDAY_SEED),
            "--rate",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(game.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            session = store.current()
            if session is not None and session.kind == "gameday" and store.switches(session.id):
                break
            time.sleep(0.5)
        switch = store.switches(session.id)[0]
        assert switch.scenario == "slow-query"
        trace_id = _dashboard_trace(stack, jaeger, SPECS["slow-query"].min_spans)
        right = _submit_cli("ada", trace_id, _answer("slow-query"))
        assert right.returncode == 0, right.stdout + right.stderr
        wrong = _submit_cli("bob", trace_id, _answer("slow-query", operation="POST /login"))
        assert wrong.returncode == 1
        assert game.wait(timeout=260) == 0
    finally:
        if game.poll() is None:
            game.terminate()
            game.wait(timeout=60)
    reader.join(timeout=10)
    text = "".join(output)
    assert "[phase " in text and "left" in text, text
    assert not any(state["active"] for state in admin.states().values())

    report_dir = Path(store.directory) / session.id
    report = json.loads((report_dir / "report.json").read_text())
    planned = [event["scenario"] for event in report["planned"]]
    assert [fault["scenario"] for fault in report["faults"]] == planned
    first = report["faults"][0]
    assert first["found_by"][0]["learner"] == "ada"
    assert 0 < first["found_by"][0]["time_to_detect_s"] < 60
    learners = {row["learner"]: row for row in report["learners"]}
    assert learners["bob"]["correct"] == 0
    markdown = (report_dir / "report.md").read_text()
    assert "| 1 | slow-query |" in markdown and "ada (" in markdown
    print(text)
    print(markdown)
