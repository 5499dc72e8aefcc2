"""Zero-code mode produces every journey's golden shape, checked by the tier's own test."""

from __future__ import annotations

import pytest

from tests.e2e.journeys import JOURNEYS, drive, trace_id_of, wait_for_match
from tests.e2e.test_journeys import test_journey_trace_has_its_golden_shape
from tracelab.shapes.catalogue import journey_shape_path

pytestmark = pytest.mark.e2e

__all__ = ["test_journey_trace_has_its_golden_shape"]


def test_the_spans_come_from_the_auto_instrumentation(http, frontend_url, login, backends):
    """Every service's resource says so (the configurator's ``telemetry.auto.version``)."""
    journey = next(j for j in JOURNEYS if j.name == "dashboard")
    response = drive(journey, http, frontend_url, login)
    result, trace = wait_for_match(
        backends["jaeger"], journey_shape_path(journey.name), trace_id_of(response)
    )
    assert trace is not None and result.ok, result.report() if result else "no trace"
    resources = {span.service: span.resource for span in trace}
    assert set(resources) == {"frontend", "gateway", "auth", "user", "db"}
    for service, resource in resources.items():
        assert resource.get("telemetry.auto.version"), f"{service} was not auto-instrumented"
        assert resource.get("deployment.environment") == "local", service
