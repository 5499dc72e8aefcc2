"""Every workshop scenario's check, ON and OFF, against the real local stack.

Each test switches one scenario on, drives traffic through the frontend,
fetches the traces back from Jaeger and asserts the scenario's signature
(golden shape in tests/shapes/scenarios/ plus the measured part); then
switches it off and asserts the journey is back to its own golden shape.
The module ends by asserting every scenario is off in every service.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.common.faults import SCENARIOS
from tracelab.scenarios.admin import ScenarioAdmin
from tracelab.scenarios.check import Checker
from tracelab.scenarios.targets import Targets

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def targets(stack) -> Targets:
    return Targets.from_urls(stack.urls, log_dir=stack.log_dir, token=stack.admin_token)


@pytest.fixture(scope="module")
def admin(targets) -> Iterator[ScenarioAdmin]:
    client = ScenarioAdmin(targets.services, targets.token)
    client.all_off()
    yield client
    client.all_off()
    client.close()


@pytest.fixture(scope="module")
def checker(targets, admin) -> Iterator[Checker]:
    instance = Checker(targets)
    yield instance
    instance.close()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_signature_on_and_gone_off(name, checker):
    results = checker.check(name)
    assert [r.state for r in results] == ["on", "off"]
    for result in results:
        assert result.verdicts, result.summary()
        assert result.passed, result.summary()


def test_every_scenario_is_off_in_every_service(admin, checker):
    states = admin.states()
    assert set(states) == set(SCENARIOS)
    assert not [name for name, state in states.items() if state["active"]]
