"""The service map's arithmetic on span metrics and traces built in memory.

Prometheus text is written here the way the collector's exporter writes it;
each test holds the case its rule must get right beside the one it must not.
"""

from __future__ import annotations

import math

import pytest

from tests.unit.shapes.builders import flat_span
from tracelab.analysis.service_map import (
    MetricsHistory,
    Snapshot,
    histogram_quantile,
    parse_span_metrics,
    service_addresses,
    service_map,
    take_census,
    threshold_probability,
    trace_probability,
)
from tracelab.shapes.model import Trace

BOUNDS = ("5", "10", "50", "+Inf")


def series(
    service,
    kind,
    count,
    *,
    address="",
    port="",
    error=0,
    method="counted",
    instance="i1",
    buckets=None,
):
    """Prometheus lines of one (service, kind, peer): calls (ok and error) and buckets."""
    base = (
        f'instance="{instance}",job="{service}",service_name="{service}",'
        f'span_kind="SPAN_KIND_{kind.upper()}",sampling_method="{method}"'
    )
    if address:
        base += f',server_address="{address}",server_port="{port}"'
    lines = [
        f'traces_span_metrics_calls_total{{{base},status_code="STATUS_CODE_UNSET"}} {count - error}'
    ]
    if error:
        lines.append(
            f'traces_span_metrics_calls_total{{{base},status_code="STATUS_CODE_ERROR"}} {error}'
        )
    cumulative = buckets or [count] * len(BOUNDS)
    for bound, value in zip(BOUNDS, cumulative, strict=True):
        lines.append(
            f'traces_span_metrics_duration_milliseconds_bucket{{{base},le="{bound}"}} {value}'
        )
    return lines


def text(*groups):
    head = [
        "# TYPE traces_span_metrics_calls_total counter",
        "# TYPE traces_span_metrics_duration_milliseconds histogram",
    ]
    return "\n".join(head + [line for group in groups for line in group]) + "\n"


def snap(at, *groups):
    return parse_span_metrics(text(*groups), at)


def span(
    trace, sid, parent, service, kind, start_ms=0.0, end_ms=1.0, state="", resource=None, **attrs
):
    return flat_span(
        sid,
        parent,
        service,
        "op",
        kind,
        start_ms,
        end_ms,
        trace_id=trace,
        resource=resource,
        trace_state=state,
        **attrs,
    )


def profile_trace(n, *, calls_to_db=1, state="", resource=None):
    """frontend -> gateway -> user -> db (``calls_to_db`` client calls)."""
    t = f"{n:032x}"
    spans = [
        span(t, 1, None, "frontend", "server", state=state, resource=resource),
        span(
            t,
            2,
            1,
            "frontend",
            "client",
            state=state,
            **{"server.address": "gw", "server.port": 81},
        ),
        span(t, 3, 2, "gateway", "server", state=state),
        span(
            t, 4, 3, "gateway", "client", state=state, **{"server.address": "us", "server.port": 83}
        ),
        span(t, 5, 4, "user", "server", state=state),
    ]
    for i in range(calls_to_db):
        spans.append(
            span(
                t,
                10 + i,
                5,
                "user",
                "client",
                state=state,
                **{"server.address": "db", "server.port": 84},
            )
        )
        spans.append(span(t, 20 + i, 10 + i, "db", "server", state=state))
    return Trace(spans)


# -- reading the metrics --------------------------------------------------------------
def test_each_series_is_followed_alone_so_a_restarted_service_is_not_counted_twice():
    old = snap(0, series("user", "server", 100, instance="before-restart"))
    # The restarted service's series start from zero; the old one is gone.
    new = snap(60, series("user", "server", 30, instance="after-restart"))
    document = service_map((old, new), [])
    user = next(s for s in document["services"] if s["name"] == "user")
    assert user["calls"] == 30
    # Summing all series first would have seen 100 -> 30, a "reset", and counted 30 too,
    # but 100 -> 130 (old still listed) must give 30 as well:
    both = snap(
        60,
        series("user", "server", 100, instance="before-restart"),
        series("user", "server", 30, instance="after-restart"),
    )
    user = next(s for s in service_map((old, both), [])["services"] if s["name"] == "user")
    assert user["calls"] == 30


def test_a_counter_that_went_down_was_reset_and_counts_from_zero():
    old = snap(0, series("db", "server", 500))
    new = snap(30, series("db", "server", 40))
    db = next(s for s in service_map((old, new), [])["services"] if s["name"] == "db")
    assert db["calls"] == 40
    assert db["rate_per_s"] == pytest.approx(40 / 30, abs=1e-3)


def test_errors_rates_and_percentiles_over_the_window():
    old = snap(0, series("gateway", "server", 100, error=10, buckets=[50, 90, 100, 100]))
    new = snap(10, series("gateway", "server", 300, error=20, buckets=[150, 270, 300, 300]))
    gateway = service_map((old, new), [])["services"][0]
    assert gateway["calls"] == 200 and gateway["rate_per_s"] == 20.0
    assert gateway["error_rate"] == 0.05
    # 100 of 200 under 5 ms, 180 under 10: p50 is 5 ms, p99 between 10 and 50.
    assert gateway["p50_ms"] == pytest.approx(5.0)
    assert gateway["p99_ms"] == pytest.approx(10 + 40 * (198 - 180) / 20)


def test_histogram_quantile_reads_buckets_as_promql_does():
    cumulative = {5.0: 10.0, 10.0: 30.0, 50.0: 40.0, math.inf: 40.0}
    assert histogram_quantile(0.25, cumulative) == pytest.approx(5.0)
    assert histogram_quantile(0.5, cumulative) == pytest.approx(5 + 5 * (20 - 10) / 20)
    assert histogram_quantile(1.0, cumulative) == pytest.approx(50.0)
    # The rank in the +Inf bucket: the highest finite bound.
    assert histogram_quantile(0.99, {5.0: 1.0, math.inf: 10.0}) == 5.0
    assert histogram_quantile(0.5, {}) is None
    assert histogram_quantile(0.5, {5.0: 0.0, math.inf: 0.0}) is None


# -- which call is which -----------------------------------------------------------------
def test_peers_are_learnt_from_the_traces_and_else_from_the_known_addresses():
    old = snap(0)
    new = snap(
        10,
        series("gateway", "client", 40, address="us", port="83"),
        series("user", "client", 20, address="db", port="84"),
        series("auth", "client", 3, address="db", port="84"),
        series("auth", "client", 2, address="elsewhere", port="9"),
    )
    traces = [profile_trace(1)]
    document = service_map((old, new), traces, known_peers={("db", "84"): "db"})
    edges = {(e["from"], e["to"]): e for e in document["edges"]}
    assert edges[("gateway", "user")]["calls"] == 40
    assert edges[("user", "db")]["calls"] == 20 and edges[("user", "db")]["calls_in_traces"] == 1
    # No trace of the window shows auth calling db: the known address says who it is.
    assert edges[("auth", "db")]["calls"] == 3 and edges[("auth", "db")]["calls_in_traces"] == 0
    # Nobody knows this one: listed, not dropped.
    (unknown,) = document["unattributed_peers"]
    assert (unknown["from"], unknown["peer"], unknown["calls"]) == ("auth", "elsewhere:9", 2)
    # db answered no server span in this window, yet it is a service (the traces say so).
    assert {s["name"]: s["kind"] for s in document["services"]}["db"] == "service"


def test_a_database_call_is_an_edge_to_its_system():
    t = "f" * 32
    trace = Trace(
        [
            span(t, 1, None, "db", "server"),
            span(
                t,
                2,
                1,
                "db",
                "client",
                **{"db.system": "postgresql", "server.address": "pg", "server.port": 5432},
            ),
        ]
    )
    new = snap(10, series("db", "server", 5), series("db", "client", 5, address="pg", port="5432"))
    document = service_map((snap(0), new), [trace])
    assert {(e["from"], e["to"]) for e in document["edges"]} == {("db", "postgresql")}
    assert {s["name"]: s["kind"] for s in document["services"]}["postgresql"] == "database"


def test_service_addresses_from_urls():
    assert service_addresses({"db": "http://127.0.0.1:8084", "x": "not a url"}) == {
        ("127.0.0.1", "8084"): "db"
    }


# -- sampling ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("state", "probability"),
    [
        ("ot=th:e6666666666666", 0.1),
        ("ot=th:8", 0.5),
        ("ot=th:0", 1.0),
        ("vendor=x,ot=rv:abcdef01234567;th:c", 0.25),
        ("ot=rv:abcdef01234567", None),
        ("other=th:8", None),
        ("ot=th:zz", None),
        ("ot=th:123456789abcdef", None),  # longer than 14 hex digits
        ("", None),
    ],
)
def test_threshold_probability(state, probability):
    found = threshold_probability(state)
    assert found == (None if probability is None else pytest.approx(probability))


def test_a_traces_probability_is_its_roots_tracestate_else_its_declared_sampler():
    assert trace_probability(profile_trace(1, state="ot=th:8")) == (0.5, "tracestate ot=th")
    declared = profile_trace(2, resource={"tracelab.sampling.probability": 0.2})
    assert trace_probability(declared) == (0.2, "the services' sampler configuration")
    assert trace_probability(profile_trace(3)) is None
    assert (
        trace_probability(profile_trace(4, resource={"tracelab.sampling.probability": 0})) is None
    )


def test_counted_series_are_divided_by_p_and_extrapolated_ones_multiplied():
    traces = [profile_trace(i, resource={"tracelab.sampling.probability": 0.1}) for i in range(5)]
    counted = snap(10, series("frontend", "server", 50))
    figures = service_map((snap(0), counted), traces)["services"][0]
    assert figures["calls"] == 50 and figures["corrected_calls"] == 500
    assert figures["extrapolated_by_collector"] == 0
    assert figures["probability_from"] == "the services' sampler configuration"
    # The collector already weighted these (ot=th): 500 stands for 50 sampled spans.
    th = [profile_trace(i, state="ot=th:e6666666666666") for i in range(5)]
    extrapolated = snap(10, series("frontend", "server", 500, method="extrapolated"))
    figures = service_map((snap(0), extrapolated), th)["services"][0]
    assert figures["calls"] == pytest.approx(50) and figures["corrected_calls"] == pytest.approx(
        500
    )
    assert figures["extrapolated_by_collector"] == 1.0


def test_the_standard_error_is_the_binomials_widened_by_spans_per_trace():
    # One frontend span per trace: sqrt(n (1 - p)) / p.
    traces = [
        profile_trace(i, calls_to_db=3, resource={"tracelab.sampling.probability": 0.25})
        for i in range(4)
    ]
    new = snap(10, series("frontend", "server", 100), series("db", "server", 300))
    services = {s["name"]: s for s in service_map((snap(0), new), traces)["services"]}
    assert services["frontend"]["corrected_calls_stderr"] == pytest.approx(
        math.sqrt(100 * 0.75) / 0.25, abs=0.01
    )
    assert services["frontend"]["spans_per_trace"] == 1
    # db has 3 spans in every trace: whole traces are kept or dropped, sqrt(3) wider.
    assert services["db"]["spans_per_trace"] == 3
    assert services["db"]["corrected_calls_stderr"] == pytest.approx(
        math.sqrt(300 * 3 * 0.75) / 0.25, abs=0.01
    )


def test_without_any_sampling_information_the_default_applies():
    new = snap(10, series("frontend", "server", 10))
    figures = service_map((snap(0), new), [], default_probability=(0.5, "console"))["services"][0]
    assert (figures["sampling_probability"], figures["probability_from"]) == (0.5, "console")
    assert figures["corrected_calls"] == 20
    unsampled = service_map((snap(0), new), [])["services"][0]
    assert unsampled["corrected_calls"] == 10 and unsampled["corrected_calls_stderr"] == 0


def test_census_counts_spans_per_trace():
    census = take_census([profile_trace(1, calls_to_db=2), profile_trace(2, calls_to_db=4)])
    db = census.services["db"]
    assert (db.traces, db.spans, db.squares) == (2, 6, 20)
    assert db.design_effect == pytest.approx(20 / 6)
    assert census.edges[("user", "db")].spans == 6
    assert census.peers[("gateway", "us", "83")] == "user"


# -- the history ---------------------------------------------------------------------------
def test_the_history_keeps_snapshots_and_gives_a_window():
    pages = iter([text(series("db", "server", n)) for n in (10, 20, 35, 50)])
    history = MetricsHistory("http://metrics", interval=5, keep=12, fetch=lambda _url: next(pages))
    assert history.window(60) is None
    for at in (0, 5, 10, 15):
        assert isinstance(history.scrape(now=at), Snapshot)
    oldest, newest = history.window(5)
    assert (oldest.at, newest.at) == (10, 15)
    oldest, newest = history.window(3600)
    assert oldest.at == 5  # older than ``keep`` is forgotten


def test_a_failed_scrape_says_why():
    def refuse(_url):
        raise ValueError("not Prometheus text")

    history = MetricsHistory("http://metrics", fetch=refuse)
    assert history.scrape() is None
    assert "could not be read" in history.last_error
    unconfigured = MetricsHistory(None)
    assert unconfigured.scrape() is None
    assert "TRACELAB_SPAN_METRICS_URL" in unconfigured.last_error
