"""``tracelab analyze`` on real traces: each scenario's finding when it is on, none when off.

Traffic first, analysis after: the five golden journeys with every scenario
off, then each scenario on with its check's journey and load (more samples
where the check needs few), the traces fetched once every span is in
Jaeger. Every trace goes through the ``tracelab analyze --json`` command.

Asserted: no finding at all on a trace with every scenario off (the golden
journeys, and flaky-auth's calls that did not fail); each scenario's
detector flags its traces (every one, or at least one for faults that need
contention). The numbers (traces flagged / traces of each scenario, per
detector) go to results/analysis/findings-per-scenario.json.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from services.common.faults import SCENARIOS
from tracelab.analysis.cli import analyze
from tracelab.analysis.findings import DETECTORS
from tracelab.scenarios.admin import ScenarioAdmin
from tracelab.scenarios.signatures import SIGNATURES
from tracelab.scenarios.spec import SHAPES_DIR, SPECS
from tracelab.scenarios.targets import Targets
from tracelab.scenarios.traffic import JOURNEYS, Traffic
from tracelab.shapes.backends import JaegerClient
from tracelab.shapes.shape import load_shape
from tracelab.stack.paths import repo_root

pytestmark = pytest.mark.e2e

PER_JOURNEY = 4  # golden traces of each journey, every scenario off
MIN_SAMPLES = 6  # traces of each scenario (more where its check drives more)
OFF = "off"


@pytest.fixture(scope="module")
def traces(stack) -> Iterator[dict[str, list[tuple[str, int]]]]:
    """(trace id, spans it must have) per group: ``off`` and each scenario's traces."""
    targets = Targets.from_urls(stack.urls, log_dir=stack.log_dir, token=stack.admin_token)
    admin = ScenarioAdmin(targets.services, targets.token)
    traffic = Traffic(targets.frontend)
    groups: dict[str, list[tuple[str, int]]] = {OFF: []}
    try:
        admin.all_off()
        for journey in JOURNEYS:
            spans = len(load_shape(SHAPES_DIR / f"{journey}.yaml").nodes())
            for user in range(1, PER_JOURNEY + 1):
                answer = traffic.journey(journey, 20 + user)
                groups[OFF].append((answer.trace_id, spans))
        for name, spec in SPECS.items():
            if spec.warmup:
                traffic.burst(spec.journey, spec.warmup, spec.concurrency)
            admin.switch(name, True, spec.params)
            try:
                answers = traffic.burst(
                    spec.journey, max(spec.samples, MIN_SAMPLES), max(spec.concurrency, 1)
                )
            finally:
                admin.switch(name, False)
            for answer in answers:
                if spec.only_status is not None and answer.status != spec.only_status:
                    # A call the fault spared (flaky-auth's that did not fail): a clean trace.
                    groups[OFF].append(
                        (answer.trace_id, len(load_shape(spec.baseline_path).nodes()))
                    )
                else:
                    groups.setdefault(name, []).append((answer.trace_id, spec.min_spans))
        yield groups
    finally:
        admin.all_off()
        admin.close()
        traffic.close()


@pytest.fixture(scope="module")
def findings(stack, traces) -> dict[str, list[set[str]]]:
    """Per group, the finding kinds ``tracelab analyze`` reports on each of its traces."""
    time.sleep(7)  # longer than the services' export interval: every span has left
    jaeger_url = stack.urls["jaeger"]
    found: dict[str, list[set[str]]] = {}
    with JaegerClient(jaeger_url) as jaeger:
        for group, entries in traces.items():
            for trace_id, spans in entries:
                assert trace_id, f"a {group} answer named no trace"
                jaeger.wait_for_trace(trace_id, min_spans=spans, timeout=30)
                result = CliRunner().invoke(
                    analyze, ["--trace-id", trace_id, "--url", jaeger_url, "--json"]
                )
                assert result.exit_code == 0, result.output
                kinds = {f["kind"] for f in json.loads(result.output)["findings"]}
                found.setdefault(group, []).append(kinds)
    _record(found)
    return found


def test_no_finding_on_any_trace_with_every_scenario_off(findings):
    flagged = [kinds for kinds in findings[OFF] if kinds]
    assert len(findings[OFF]) >= len(JOURNEYS) * PER_JOURNEY
    assert not flagged, f"{len(flagged)} clean trace(s) flagged: {flagged}"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_scenario_shows_its_finding(findings, name):
    detector = SIGNATURES[name].detector
    flagged = sum(detector in kinds for kinds in findings[name])
    if SPECS[name].mode == "all":
        assert flagged == len(findings[name]), (name, findings[name])
    else:
        assert flagged >= 1, (name, findings[name])


def _record(found: dict[str, list[set[str]]]) -> None:
    """Recall per scenario, what each detector flagged, precision per detector."""
    table = {
        group: {
            "traces": len(kinds_list),
            "flagged_by": dict(Counter(k for kinds in kinds_list for k in sorted(kinds))),
        }
        for group, kinds_list in found.items()
    }
    for name in SCENARIOS:
        row = table[name]
        row["signature"] = SIGNATURES[name].detector
        row["recall"] = round(row["flagged_by"].get(row["signature"], 0) / row["traces"], 3)
    precision = {}
    for detector in DETECTORS:
        total = sum(row["flagged_by"].get(detector, 0) for row in table.values())
        own = sum(
            table[name]["flagged_by"].get(detector, 0)
            for name in SCENARIOS
            if SIGNATURES[name].detector == detector
        )
        precision[detector] = {"flags": total, "on_its_scenarios": own}
    out = repo_root() / "results" / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    document = {"groups": table, "detectors": precision}
    (out / "findings-per-scenario.json").write_text(json.dumps(document, indent=2) + "\n")
