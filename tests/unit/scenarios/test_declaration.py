"""The scenario declaration: complete, consistent, and what every tool looks up.

Each declared scenario has its shape, page, detector, check journey and an
answer key that names real spans; the lab's lookup (``tracelab.scenarios.
catalogue``) refuses a typo; the docs' scenario tables list exactly the
declared scenarios.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from services.common import scenarios
from services.common.scenarios import (
    CATALOGUE,
    FIX_KINDS,
    Answer,
    Check,
    Param,
    Scaled,
    Scenario,
    Signature,
    UnknownScenario,
)
from tracelab.analysis.findings import DETECTORS, Thresholds
from tracelab.scenarios import catalogue
from tracelab.scenarios.signatures import REFINEMENTS
from tracelab.scenarios.traffic import JOURNEYS
from tracelab.shapes.shape import load_shape
from tracelab.stack.config import SERVICES
from tracelab.stack.paths import repo_root

ROOT = repo_root()
EVERY = [pytest.param(s, id=s.name) for s in catalogue.all()]


@pytest.mark.parametrize("lab", EVERY)
def test_every_declared_scenario_is_complete(lab):
    assert set(lab.owner_services) <= set(SERVICES) - {"frontend"}
    assert lab.signature.detector in DETECTORS
    assert set(lab.declared.signature.thresholds) <= set(Thresholds().to_dict())
    assert lab.check.journey in JOURNEYS
    assert load_shape(lab.shape_path).name == lab.name
    assert lab.shape_path == ROOT / "tests" / "shapes" / "scenarios" / f"{lab.name}.yaml"
    page = lab.page_path.read_text()
    assert page.startswith(f"# Scenario: {lab.name}\n")
    assert f"`tracelab scenario on {lab.name}" in page
    assert "## Answer key" in page and lab.declared.shape_path in page
    assert lab.answer.cause == lab.name
    assert lab.answer.services and lab.answer.services <= set(SERVICES)
    assert lab.answer.operations and lab.answer.fix in FIX_KINDS


@pytest.mark.parametrize("lab", EVERY)
def test_every_accepted_operation_is_a_span_of_the_scenario_shape(lab):
    """The answer key names spans the learner can see in the scenario's trace."""
    text = lab.shape_path.read_text()
    names = set(re.findall(r"^\s+name: (.+)$", text, re.M))
    patterns = re.findall(r"^\s+name_regex: (.+)$", text, re.M)
    for operation in lab.answer.operations:
        concrete = operation.replace("{id}", "4")
        seen = concrete in names or any(re.search(p, concrete) for p in patterns)
        # Spans the shape leaves open (allow_extra_children) are named in the page instead.
        assert seen or operation in lab.page_path.read_text(), (lab.name, operation)


def test_the_lab_lookup_refuses_a_typo_and_names_the_known_ones():
    assert catalogue.get("slow-query").declared is scenarios.SLOW_QUERY
    assert [s.name for s in catalogue.all()] == list(catalogue.names())
    with pytest.raises(UnknownScenario) as typo:
        catalogue.get("slow-qurey")
    assert (
        str(typo.value) == f"unknown scenario 'slow-qurey'; known: {', '.join(CATALOGUE.names())}"
    )
    assert isinstance(typo.value, KeyError) and isinstance(typo.value, ValueError)


def test_the_lab_code_of_signatures_is_keyed_by_declared_objects():
    assert all(key in CATALOGUE for key in REFINEMENTS)
    assert catalogue.get("lost-context").signature.wait_s == 12.0
    assert catalogue.get("slow-query").signature.thresholds({"scan_ms": 500}) == {
        "dominating_min_ms": 250.0
    }


def test_an_answer_key_accepts_sets_and_normalises_names():
    answer = scenarios.SLOW_QUERY.answer
    assert answer.services == {"db"} and answer.cause == "slow-query"
    assert answer.accepts_service(" DB ") and not answer.accepts_service("user")
    assert answer.accepts_operation("select") and answer.accepts_operation(
        "GET /users/<int:user_id>/activity"
    )
    assert not answer.accepts_operation("GET /users/{id}")
    assert answer.accepts_cause("Slow Query") and not answer.accepts_cause("n-plus-one")
    assert scenarios.RETRY_STORM.answer.services == {"db", "user"}  # default: the owners


def _declare(**changes):
    fields = {
        "name": "fake-fault",
        "owner_services": ("user",),
        "summary": "a fault declared by a test",
        "parameters": {"ms": Param(10, 0, 100)},
        "signature": Signature("dominating-span", "(any)", {"dominating_min_ms": Scaled("ms")}),
        "check": Check("dashboard"),
        "answer": Answer(frozenset({"GET"})),
    }
    return Scenario(**{**fields, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Fake_Fault"}, "lower-case-with-dashes"),
        ({"owner_services": ()}, "no owning service"),
        ({"signature": Signature("retries", "x", {"retry_attempts": Scaled("nope")})}, "nope"),
        ({"check": Check("dashboard", params={"ms": 1000})}, "between 0 and 100"),
    ],
)
def test_a_bad_declaration_fails_at_import(changes, message):
    with pytest.raises(ValueError, match=message):
        _declare(**changes)


def test_a_name_declared_twice_is_refused(monkeypatch):
    monkeypatch.setattr(CATALOGUE, "scenarios", (*CATALOGUE.scenarios, _declare(name="n-plus-one")))
    with pytest.raises(ValueError, match="'n-plus-one' is declared twice"):
        CATALOGUE.names()


def test_the_declaration_is_frozen_and_compared_by_identity():
    fake = _declare()
    with pytest.raises(dataclasses.FrozenInstanceError):
        fake.name = "other"  # type: ignore[misc]
    assert fake != _declare() and fake not in CATALOGUE


# -- the docs' lists are checked against the declaration ---------------------------------
def _table_rows(path: str, heading: str) -> list[list[str]]:
    text = (ROOT / path).read_text()
    section = text.split(heading, 1)[1]
    rows = re.findall(r"^\|(.+)\|$", section.split("\n\n#", 1)[0], re.M)
    cells = [[c.strip() for c in row.split("|")] for row in rows]
    return [c for c in cells if c[0] not in {"scenario", ""} and not set(c[0]) <= {"-"}]


def test_the_workshop_outline_lists_every_scenario_with_its_owners_and_page():
    rows = _table_rows("docs/workshop/README.md", "| scenario | lives in |")
    listed = [(r[0].strip("`"), r[1], r[3]) for r in rows]
    expected = [
        (
            s.name,
            " + ".join(s.owner_services[::-1])
            if len(s.owner_services) > 1
            else s.owner_services[0],
            f"[{s.name}.md]({s.name}.md)",
        )
        for s in CATALOGUE.all()
    ]
    assert listed == expected


def test_the_analysis_guide_lists_every_scenario_with_its_detector():
    rows = _table_rows("docs/analysis.md", "| scenario | detector |")
    assert [(r[0], r[1].strip("`")) for r in rows] == [
        (s.name, s.signature.detector) for s in CATALOGUE.all()
    ]
