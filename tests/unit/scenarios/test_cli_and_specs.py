"""Scenario tooling without a stack: specs and shapes agree, CLI parsing, local-only traffic."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from services.common.faults import SCENARIOS
from tracelab.scenarios.cli import _parse_params, scenario
from tracelab.scenarios.signatures import SIGNATURES
from tracelab.scenarios.spec import SPECS
from tracelab.scenarios.traffic import JOURNEYS, Traffic
from tracelab.shapes.shape import load_shape


def test_every_scenario_has_a_spec_a_signature_and_a_valid_golden_shape():
    assert set(SPECS) == set(SIGNATURES) == set(SCENARIOS)
    for spec in SPECS.values():
        assert spec.journey in JOURNEYS
        shape = load_shape(spec.shape_path)
        assert shape.name == spec.scenario
        assert load_shape(spec.baseline_path).name == spec.journey


def test_params_are_key_equals_number():
    assert _parse_params(("rate=0.2", "scan_ms=500")) == {"rate": 0.2, "scan_ms": 500}
    with pytest.raises(click.BadParameter):
        _parse_params(("rate",))
    with pytest.raises(click.BadParameter):
        _parse_params(("rate=high",))


def test_traffic_goes_to_localhost_only():
    with pytest.raises(ValueError, match=r"127\.0\.0\.1 only"):
        Traffic("http://example.com:8080")


def test_unknown_scenario_names_are_refused_by_the_cli():
    result = CliRunner().invoke(scenario, ["on", "no-such-scenario"])
    assert result.exit_code == 2
    assert "Invalid value" in result.output


def test_without_a_stack_the_cli_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACELAB_RUN_DIR", str(tmp_path))
    result = CliRunner().invoke(scenario, ["list"])
    assert result.exit_code == 2
    assert "no local stack is recorded" in result.output
