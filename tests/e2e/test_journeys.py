"""Every journey's trace, fetched back from every backend, has its golden shape."""

from __future__ import annotations

import pytest

from tests.e2e.journeys import JOURNEYS, drive, trace_id_of, wait_for_match
from tracelab.shapes.catalogue import journey_shape_path

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("journey", JOURNEYS, ids=lambda j: j.name)
def test_journey_trace_has_its_golden_shape(journey, http, frontend_url, login, backends):
    response = drive(journey, http, frontend_url, login)
    assert response.status_code == journey.expected_status, response.text
    trace_id = trace_id_of(response)
    for name, client in backends.items():
        result, trace = wait_for_match(client, journey_shape_path(journey.name), trace_id)
        assert trace is not None, f"{name} never returned trace {trace_id}"
        assert result.ok, f"{journey.name} trace in {name} differs:\n{result.report()}"
