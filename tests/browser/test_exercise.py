"""The exercise view in a real Chromium: a learner submits, reads the grade, opens the reveal.

A slow-query exercise runs on the real stack; the learner submits one wrong
diagnosis (the grade marks the service) and a right one, whose reveal opens
the trace view with the finding's span highlighted. The leader's table lists
both attempts; once the exercise is stopped, the view names the answer.
"""

from __future__ import annotations

import pytest
import requests

from tests.e2e.journeys import log_in, trace_id_of
from tracelab.scenarios.admin import ScenarioAdmin
from tracelab.shapes.backends import JaegerClient
from tracelab.workshop.session import start_exercise, stop_exercise, workshop_dir
from tracelab.workshop.store import Store

pytestmark = pytest.mark.e2e


@pytest.fixture
def exercise(stack):
    store = Store(workshop_dir(stack.run_dir))
    running = store.current()
    if running is not None:
        store.stop(running.id, {"outcome": "abandoned"})
    admin = ScenarioAdmin(stack.urls, stack.admin_token)
    start_exercise(store, admin, seed=1, pool=["slow-query"])
    yield store, admin
    if store.current() is not None:
        stop_exercise(store, admin)
    admin.close()


@pytest.fixture
def slow_trace(stack, exercise) -> str:
    with requests.Session() as http:
        user = log_in(http, stack.urls["frontend"], 41)
        response = http.get(
            f"{stack.urls['frontend']}/api/dashboard", headers=user.headers, timeout=15
        )
    assert response.status_code == 200
    trace_id = trace_id_of(response)
    JaegerClient(stack.urls["jaeger"]).wait_for_trace(trace_id, min_spans=17, timeout=30)
    return trace_id


def _submit(page, service: str, trace_id: str) -> None:
    page.fill("#ex-learner", "ada")
    page.fill("#ex-service", service)
    page.fill("#ex-operation", "SELECT")
    page.select_option("#ex-cause", "slow-query")
    page.fill("#ex-trace", trace_id)
    page.click("#ex-submit")


def test_a_learner_is_graded_and_sees_the_finding_highlighted(
    page, stack, exercise, slow_trace, screenshot
):
    page.goto(f"{stack.urls['console']}/#/exercise")
    page.wait_for_selector("#ex-cause option[value='slow-query']", state="attached")
    _submit(page, "gateway", slow_trace)
    page.wait_for_selector('#ex-result[data-correct="false"]', timeout=30_000)
    assert page.get_attribute('#ex-result li[data-field="service"]', "data-ok") == "false"
    assert page.get_attribute('#ex-result li[data-field="trace"]', "data-ok") == "true"

    _submit(page, "db", slow_trace)
    page.wait_for_selector('#ex-result[data-correct="true"]', timeout=30_000)
    page.wait_for_selector('#ex-learners tr[data-learner="ada"]')
    row = page.locator('#ex-learners tr[data-learner="ada"] td')
    assert row.nth(1).inner_text() == "2" and row.nth(2).inner_text() == "yes"
    screenshot(page, "exercise")

    page.click("#ex-reveal-link")
    page.wait_for_selector('#view-trace[data-state="complete"]', timeout=45_000)
    page.wait_for_selector(".wf-row.highlight", timeout=15_000)
    highlighted = page.locator(".wf-row.highlight")
    assert highlighted.count() == 1
    assert "SELECT" in highlighted.first.inner_text()
    screenshot(page, "exercise-reveal")

    # Once the leader stops it, the view names the answer.
    stop_exercise(*exercise)
    page.goto(f"{stack.urls['console']}/#/exercise")
    page.wait_for_selector("#ex-answer:not([hidden])")
    assert "The answer: slow-query" in page.inner_text("#ex-answer")
    assert page.is_disabled("#ex-submit")
