"""The service map's sampling correction against the real stack, with a known load.

The same load (``REQUESTS`` profile requests) runs three times: unsampled,
under 10% head sampling that writes ``ot=th`` (the collector's span metrics
extrapolate those spans), and under the SDK's ``parentbased_traceidratio``
(no tracestate: the console corrects by the probability the services
declare). The span metrics are read before and after each load, once they
have settled, so the window holds exactly that load's spans.

Tolerances are the binomial's: n sampled traces out of N ~ binomial(N, p),
so the raw count is within 3 sqrt(N p (1 - p)) of N p and the corrected one
within 3 sqrt(N (1 - p) / p) of N.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.journeys import log_in
from tracelab.analysis.service import service_map_report
from tracelab.analysis.service_map import parse_span_metrics, service_addresses
from tracelab.sampling.metrics import red, scrape, settled
from tracelab.shapes.backends import JaegerClient
from tracelab.stack import Stack
from tracelab.stack.paths import repo_root

pytestmark = pytest.mark.e2e

REQUESTS = 1200
WORKERS = 4
P = 0.1
SAMPLERS = {
    "unsampled": {},
    "ot=th": {"OTEL_TRACES_SAMPLER": "parentbased_probability", "OTEL_TRACES_SAMPLER_ARG": str(P)},
    "traceidratio": {
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": str(P),
    },
}


@pytest.fixture
def restarted(stack) -> Iterator:
    """Restart the services with a sampler; afterwards, back to the default (unsampled)."""
    local = Stack(repo_root())

    def run_with(extra_env: dict[str, str]):
        return local.up(timeout=180, extra_env=extra_env)

    yield run_with
    local.up(timeout=180)


@pytest.fixture(scope="module")
def accounts(stack) -> list:
    """``WORKERS`` users logged in once, their logins counted before any load is measured.

    Tokens outlive the services' restarts, so the sampled runs log nobody in:
    their windows hold the load's spans only.
    """
    url = stack.urls["span_metrics"]
    frontend_calls = red(scrape(url))["calls"]
    with requests.Session() as session:
        logged_in = [log_in(session, stack.urls["frontend"], 60 + i) for i in range(WORKERS)]
    deadline = time.monotonic() + 60
    while red(scrape(url))["calls"] < frontend_calls + WORKERS:
        assert time.monotonic() < deadline, "the logins never reached the span metrics"
        time.sleep(0.5)
    return logged_in


def _load(frontend: str, accounts: list) -> int:
    """``REQUESTS`` profile reads, one worker per account; how many answered 200."""

    def worker(account) -> int:
        url = f"{frontend}/api/users/{account.user_id}"
        headers = {"Authorization": f"Bearer {account.token}"}
        with requests.Session() as session:
            return sum(
                session.get(url, headers=headers, timeout=10).status_code == 200
                for _ in range(REQUESTS // WORKERS)
            )

    with ThreadPoolExecutor(WORKERS) as pool:
        return sum(pool.map(worker, accounts))


def _measure(info, accounts: list) -> dict:
    """The map of exactly one load: the span metrics once settled, before and after it."""
    url = info.urls["span_metrics"]
    before = parse_span_metrics(settled(url, minimum_s=6), time.time())
    assert _load(info.urls["frontend"], accounts) == REQUESTS
    after = parse_span_metrics(settled(url), time.time())
    services = {name: info.urls[name] for name in ("gateway", "auth", "user", "db")}
    with JaegerClient(info.urls["jaeger"]) as jaeger:
        return service_map_report(
            jaeger,
            (before, after),
            default_probability=(1.0, "test"),
            known_peers=service_addresses(services),
        )


def _by_name(document: dict) -> tuple[dict, dict]:
    services = {s["name"]: s for s in document["services"]}
    edges = {(e["from"], e["to"]): e for e in document["edges"]}
    return services, edges


# Every call of one profile read: frontend -> gateway -> auth (verify), gateway -> user -> db.
PROFILE_EDGES = {
    ("frontend", "gateway"),
    ("gateway", "auth"),
    ("gateway", "user"),
    ("user", "db"),
    ("db", "postgresql"),
}


def test_unsampled_the_map_counts_every_request_once(restarted, accounts):
    document = _measure(restarted(SAMPLERS["unsampled"]), accounts)
    services, edges = _by_name(document)
    assert set(services) == {"frontend", "gateway", "auth", "user", "db", "postgresql"}
    assert services["postgresql"]["kind"] == "database"
    assert set(edges) >= PROFILE_EDGES
    for name in ("frontend", "gateway", "auth", "user", "db"):
        assert services[name]["calls"] == REQUESTS, name
        assert services[name]["corrected_calls"] == REQUESTS
        assert services[name]["corrected_calls_stderr"] == 0
        assert services[name]["error_rate"] == 0
        assert 0 < services[name]["p50_ms"] <= services[name]["p99_ms"]
    for edge in PROFILE_EDGES:
        assert edges[edge]["calls"] == REQUESTS, edge
    _record("unsampled", document)


@pytest.mark.parametrize(
    ("sampler", "source", "extrapolated"),
    [
        ("ot=th", "tracestate ot=th", 1.0),
        ("traceidratio", "the services' sampler configuration", 0.0),
    ],
)
def test_under_ten_percent_sampling_the_corrected_rate_is_the_true_one(
    restarted, accounts, sampler, source, extrapolated
):
    document = _measure(restarted(SAMPLERS[sampler]), accounts)
    services, edges = _by_name(document)
    raw_sigma = math.sqrt(REQUESTS * P * (1 - P))
    corrected_sigma = math.sqrt(REQUESTS * (1 - P) / P)
    for figures in (services["frontend"], services["user"], edges[("gateway", "user")]):
        assert figures["sampling_probability"] == pytest.approx(P)
        assert figures["probability_from"] == source
        assert figures["extrapolated_by_collector"] == extrapolated
        # Raw: ten times low, within the binomial's error of N p.
        assert abs(figures["calls"] - REQUESTS * P) <= 3 * raw_sigma, figures
        # Corrected: the true count, within the binomial's error of N.
        assert abs(figures["corrected_calls"] - REQUESTS) <= 3 * corrected_sigma, figures
        # The error the map reports is that same binomial error (estimated from n).
        assert figures["corrected_calls_stderr"] == pytest.approx(corrected_sigma, rel=0.35)
    _record(sampler, document)


def _record(name: str, document: dict) -> None:
    """Keep the figures for the closing note (results/analysis/service-map-<name>.json)."""
    out = repo_root() / "results" / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    services, edges = _by_name(document)
    summary = {
        "requests": REQUESTS,
        "frontend": services["frontend"],
        "gateway->user": edges.get(("gateway", "user")),
    }
    (out / f"service-map-{name}.json").write_text(json.dumps(summary, indent=2) + "\n")
