"""Grading: sets of right answers, every wrong field with its reason, traces that prove nothing."""

from __future__ import annotations

import pytest

from tests.unit.shapes.builders import TRACE_ID
from tests.unit.workshop.traces import T0_S, healthy, slow_query
from tracelab.workshop.catalogue import ANSWER_KEYS, entry, names, normalise_operation
from tracelab.workshop.grading import Diagnosis, InvalidDiagnosis, explain, grade
from tracelab.workshop.store import Switch

ON = [Switch("slow-query", {}, T0_S - 10, None)]


def diagnosis(**changes) -> Diagnosis:
    raw = {
        "learner": "ada",
        "service": "db",
        "operation": "SELECT",
        "cause": "slow-query",
        "trace_id": TRACE_ID,
        **changes,
    }
    return Diagnosis.parse(raw)


def graded(trace=None, switches=ON, **changes):
    return grade(diagnosis(**changes), switches, client=None, trace=trace or slow_query())


def test_a_correct_diagnosis_is_graded_right_and_reveals_the_finding():
    result = graded()
    assert result["correct"], explain(result)
    reveal = result["reveal"]
    assert reveal["scenario"] == "slow-query"
    sql_span = next(s for s in slow_query() if s.name == "SELECT")
    assert reveal["spans"] == [sql_span.span_id]
    assert reveal["link"] == f"#/trace/{TRACE_ID}?backend=jaeger&highlight={sql_span.span_id}"
    assert reveal["whatif"]["gain_ms"] > 300


@pytest.mark.parametrize(
    "operation",
    ["SELECT", "select", "  GET /users/<user_id>/activity ", "get /users/{id}/activity"],
)
def test_any_operation_of_the_set_is_right_however_it_is_written(operation):
    assert graded(operation=operation)["correct"]


def test_the_sets_hold_several_answers():
    assert len(ANSWER_KEYS["slow-query"].operations) >= 2
    assert ANSWER_KEYS["retry-storm"].services == {"user", "db"}
    for name in ("user", "DB"):
        assert graded(service=name)["fields"]["service"]["ok"] is (name == "DB")


def test_a_wrong_service_says_so_and_the_rest_stands():
    result = graded(service="gateway")
    assert not result["correct"]
    fields = result["fields"]
    assert (
        not fields["service"]["ok"]
        and "gateway is not where the fault lives" in fields["service"]["why"]
    )
    assert fields["operation"]["ok"] and fields["cause"]["ok"] and fields["trace"]["ok"]
    assert "reveal" not in result


def test_a_wrong_operation_says_so():
    fields = graded(operation="gateway.dashboard_fanout")["fields"]
    assert not fields["operation"]["ok"]
    assert fields["service"]["ok"]


def test_a_wrong_cause_says_so():
    result = graded(cause="n-plus-one")
    assert not result["correct"]
    assert not result["fields"]["cause"]["ok"]
    assert "n-plus-one" in result["fields"]["cause"]["why"]


def test_a_trace_that_does_not_show_the_finding_is_refused_with_the_reason():
    result = graded(trace=healthy())
    assert not result["correct"]
    trace = result["fields"]["trace"]
    assert not trace["ok"]
    assert "does not show the finding" in trace["why"]
    assert "dominating-span" in trace["why"]
    # The named fields were right: only the proof is missing.
    assert all(result["fields"][f]["ok"] for f in ("service", "operation", "cause"))


def test_a_trace_from_before_the_fault_went_on_is_refused():
    later = [Switch("slow-query", {}, T0_S + 60, None)]
    result = graded(switches=later)
    assert not result["correct"]
    assert "no fault of this session was on" in result["fields"]["trace"]["why"]
    # One fault only could be meant: the named fields are still graded.
    assert result["fields"]["service"]["ok"] and result["fields"]["cause"]["ok"]


def test_in_a_game_a_trace_outside_every_fault_grades_nothing():
    game = [
        Switch("slow-query", {}, T0_S + 60, T0_S + 90),
        Switch("flaky-auth", {}, T0_S + 95, None),
    ]
    result = graded(switches=game)
    assert not any(field["ok"] for field in result["fields"].values())


def test_of_two_faults_on_the_one_named_is_graded():
    both = [Switch("sequential-fanout", {}, T0_S - 5, None), *ON]
    assert graded(switches=both)["scenario"] == "slow-query"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"learner": ""}, "learner is missing"),
        ({"trace_id": "not-a-trace"}, "is not a trace id"),
        ({"cause": "gremlins"}, "is not in the catalogue"),
        ({"service": None}, "service is missing"),
        ({"learner": "<script>"}, "learner must be a name"),
    ],
)
def test_bad_input_is_refused_with_a_message(changes, message):
    with pytest.raises(InvalidDiagnosis, match=message):
        diagnosis(**changes)


def test_every_scenario_has_an_answer_key_naming_its_owner():
    for name in names():
        scenario = entry(name)
        assert scenario.answer.cause == name
        assert scenario.answer.services & set(scenario.services)
        assert scenario.answer.operations


def test_route_placeholders_are_one_spelling():
    assert normalise_operation("GET /users/<user_id>") == normalise_operation("get  /users/{id}")
