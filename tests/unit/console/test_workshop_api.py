"""The console's exercise API: grading through the recorded backend, errors as JSON, never 500."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from tests.unit.console.helpers import HOST, _error, get
from tests.unit.shapes.builders import TRACE_ID
from tests.unit.workshop.traces import T0_S, healthy, jaeger_answer, slow_query
from tracelab.console.app import create_app
from tracelab.workshop.store import SessionRunning, Store

RIGHT = {
    "learner": "ada",
    "service": "db",
    "operation": "SELECT",
    "cause": "slow-query",
    "trace_id": TRACE_ID,
}


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "workshop")


@pytest.fixture
def exercise(store):
    session = store.start("exercise", 4, {"scenario": "slow-query", "params": {}})
    store.switched_on(session.id, "slow-query", {}, at=T0_S - 30)
    return session


@pytest.fixture
def app_client(settings, store, monkeypatch):
    monkeypatch.setenv("TRACELAB_ADMIN_TOKEN", "a-token-for-these-tests-only")
    app = create_app(dataclasses.replace(settings, workshop_dir=store.directory))
    return app.test_client()


def post(client, body, **kw):
    return client.post("/api/exercise/submissions", json=body, headers=HOST, **kw)


def test_a_right_diagnosis_is_graded_and_revealed(app_client, backends, exercise, store):
    backends[0].answer(f"/api/v3/traces/{TRACE_ID}", (200, jaeger_answer(slow_query())))
    answer = post(app_client, RIGHT)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    doc = answer.get_json()
    assert doc["correct"] and doc["reveal"]["link"].startswith(f"#/trace/{TRACE_ID}?backend=jaeger")
    assert [s.correct for s in store.submissions(exercise.id)] == [True]
    view = get(app_client, "/api/exercise").get_json()
    assert view["learners"][0]["learner"] == "ada" and view["learners"][0]["correct"]
    assert "answer" not in view  # not while it runs
    assert "answer" not in view["submissions"][0]  # nor anybody's right answer
    assert {c["id"] for c in view["causes"]} >= {"slow-query", "n-plus-one"}


def test_a_trace_without_the_finding_is_refused_with_its_reason(app_client, backends, exercise):
    backends[0].answer(f"/api/v3/traces/{TRACE_ID}", (200, jaeger_answer(healthy())))
    doc = post(app_client, RIGHT).get_json()
    assert not doc["correct"]
    assert "does not show the finding" in doc["fields"]["trace"]["why"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({**RIGHT, "cause": "gremlins"}, 422, "validation_failed"),
        ({**RIGHT, "trace_id": "xyz"}, 422, "validation_failed"),
        ({"learner": "ada"}, 422, "validation_failed"),
        ([1, 2], 422, "validation_failed"),
        ({**RIGHT, "backend": "zipkin"}, 400, "unknown_backend"),
    ],
)
def test_bad_input_answers_json_errors(app_client, exercise, body, status, code):
    _error(post(app_client, body), status, code)


def test_malformed_json_is_400(app_client, exercise):
    answer = app_client.post(
        "/api/exercise/submissions", data="{", headers={**HOST, "Content-Type": "application/json"}
    )
    _error(answer, 400, "malformed_json")


def test_no_exercise_running_is_409(app_client, store):
    _error(post(app_client, RIGHT), 409, "no_exercise")
    assert get(app_client, "/api/exercise").get_json()["session"] is None


def test_without_a_record_the_api_says_how_to_get_one(client):
    _error(post(client, RIGHT), 503, "no_workshop_record")


def test_concurrent_submissions_are_all_recorded(store, exercise):
    def one(i: int) -> None:
        store.add_submission(exercise.id, f"learner-{i}", {"i": i}, i % 2 == 0, None, {})

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(s.learner for s in Store(store.directory).submissions(exercise.id)) == sorted(
        f"learner-{i}" for i in range(16)
    )


def test_the_record_survives_a_restart_and_refuses_a_second_session(store, exercise):
    again = Store(store.directory)
    assert again.current().id == exercise.id
    with pytest.raises(SessionRunning, match="already running"):
        again.start("gameday", 1, {})
