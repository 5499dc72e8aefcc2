"""The console in a real headless Chromium against the real local stack: every view.

Search finds a journey just fired, its scatter point opens it, the dashboard
trace shows its 17 spans with the two fan-out calls overlapping, span detail
shows ``http.route``, the critical path is marked, a span's log lines appear,
journeys and scenarios work from the lab view, and bad input and a backend
that is down get a readable message. Screenshots of each view are saved in
results/screenshots/.
"""

from __future__ import annotations

import re
import time

import pytest
import requests

from services.common.admin import TOKEN_HEADER
from tests.browser.console_process import console_process
from tests.e2e.journeys import log_in, trace_id_of
from tests.unit.shapes import samples
from tests.unit.shapes.fake_backend import serve
from tracelab.shapes.backends import JaegerClient
from tracelab.stack.ports import find_free_port

pytestmark = pytest.mark.e2e

ARRIVAL_MS = 45_000
SERVICES = {"frontend", "gateway", "auth", "user", "db"}


@pytest.fixture(scope="module")
def dashboard(stack) -> str:
    """The trace id of a dashboard journey sent through the frontend, once it is all in Jaeger."""
    with requests.Session() as http:
        user = log_in(http, stack.urls["frontend"], 40)
        response = http.get(
            f"{stack.urls['frontend']}/api/dashboard", headers=user.headers, timeout=10
        )
    assert response.status_code == 200
    trace_id = trace_id_of(response)
    JaegerClient(stack.urls["jaeger"]).wait_for_trace(
        trace_id, min_spans=17, services=SERVICES, timeout=30
    )
    return trace_id


def _open_trace(page, console: str, trace_id: str) -> None:
    page.goto(f"{console}/#/trace/{trace_id}?backend=jaeger")
    page.wait_for_selector('#view-trace[data-state="complete"]', timeout=ARRIVAL_MS)


def _bar(row) -> tuple[float, float]:
    """(left, right) of a waterfall row's bar, in % of the trace."""
    style = row.locator(".wf-bar").get_attribute("style")
    left = float(re.search(r"left:\s*([\d.]+)%", style).group(1))
    width = float(re.search(r"width:\s*([\d.]+)%", style).group(1))
    return left, left + width


def test_search_finds_a_journey_just_fired_and_its_point_opens_it(
    page, stack, dashboard, screenshot
):
    console = stack.urls["console"]
    page.goto(f"{console}/#/search")
    page.wait_for_selector('#f-service option[value="frontend"]', state="attached")
    page.select_option("#f-service", "frontend")
    page.wait_for_selector('#f-operation option[value="GET /api/dashboard"]', state="attached")
    page.select_option("#f-operation", "GET /api/dashboard")
    page.select_option("#f-lookback", "15m")
    page.click("#search-button")
    page.wait_for_selector('#view-search[data-state="done"]')
    row = page.locator(f'#results-table tr[data-trace-id="{dashboard}"]')
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[0].strip() == "frontend" and cells[1] == "GET /api/dashboard"
    assert cells[4] == "17" and cells[6] == "0"
    assert set(cells[5].split(", ")) == SERVICES
    assert "service=frontend" in page.url  # the search is in the URL: shareable
    screenshot(page, "search")

    # The scatter plot: find this trace's point and click it, as a person would.
    position = page.evaluate(
        """(id) => {
            const chart = Chart.getChart(document.getElementById("scatter"));
            for (const [d, set] of chart.data.datasets.entries()) {
                const i = set.data.findIndex((p) => p.trace.trace_id === id);
                if (i >= 0) {
                    const el = chart.getDatasetMeta(d).data[i];
                    return {x: el.x, y: el.y};
                }
            }
            return null;
        }""",
        dashboard,
    )
    assert position is not None, "the trace has no point in the scatter plot"
    page.locator("#scatter").click(position={"x": position["x"], "y": position["y"]})
    page.wait_for_selector('#view-trace[data-state="complete"]', timeout=ARRIVAL_MS)
    assert page.locator("#trace-id").inner_text() == dashboard


def test_search_by_attribute_and_trace_duration(page, stack, dashboard):
    console = stack.urls["console"]
    page.goto(
        f"{console}/#/search?backend=jaeger&lookback=15m&limit=50"
        "&attributes=http.route%3D%2Fapi%2Fdashboard&min_duration=1ms"
    )
    page.wait_for_selector('#view-search[data-state="done"]')
    page.locator(f'#results-table tr[data-trace-id="{dashboard}"]').wait_for()
    durations = page.locator("#results-table tbody tr td:nth-child(4)").all_inner_texts()
    assert durations and all(not d.endswith("µs") for d in durations)
    page.goto(f"{console}/#/search?backend=jaeger&lookback=15m&min_duration=1h")
    page.wait_for_selector('#view-search[data-state="done"]')
    assert page.locator("#results-table tbody tr").count() == 0
    assert page.locator("#search-status").inner_text().startswith("0 trace(s)")


def test_dashboard_waterfall_critical_path_detail_and_logs(page, stack, dashboard, screenshot):
    _open_trace(page, stack.urls["console"], dashboard)
    rows = page.locator("#waterfall .wf-row")
    assert rows.count() == 17
    assert page.locator("#waterfall").get_attribute("data-spans") == "17"
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.service)")) == SERVICES
    assert page.locator("#trace-arrival").inner_text() == "17 spans, complete."

    # The fan-out's two calls overlap in time.
    names = page.locator("#waterfall .wf-name").all_inner_texts()
    levels = rows.evaluate_all("rows => rows.map(r => Number(r.getAttribute('aria-level')))")
    fanout = names.index("gateway.dashboard_fanout")
    calls = [
        i
        for i in range(fanout + 1, len(names))
        if levels[i] == levels[fanout] + 1
        and all(levels[j] > levels[fanout] for j in range(fanout + 1, i + 1))
    ]
    assert len(calls) == 2, calls
    first, second = (_bar(rows.nth(i)) for i in calls)
    assert first[0] < second[1] and second[0] < first[1], (first, second)

    # The critical path: marked on the rows it crosses, tiling the whole trace.
    marks = page.locator("#waterfall .wf-crit")
    assert marks.count() >= 5
    widths = marks.evaluate_all("m => m.map(e => parseFloat(e.style.width))")
    assert sum(widths) == pytest.approx(100, abs=1.5)
    assert "on-path" in (rows.nth(0).get_attribute("class") or "")
    assert "finishes last" in page.locator("#critical-rule").inner_text()
    page.uncheck("#show-critical")
    assert not marks.first.is_visible()
    page.check("#show-critical")
    screenshot(page, "trace")

    # Statistics: every service, self time and critical-path time per operation.
    stats = page.locator("#stats-table tbody tr")
    assert stats.count() >= 10
    assert {"frontend", "gateway", "auth", "user", "db"} <= set(
        stats.locator("td:first-child").all_inner_texts()
    )

    # Span detail of the frontend's server span, with its attributes and log lines.
    rows.nth(0).click()
    detail = page.locator("#span-detail")
    detail.wait_for()
    route = detail.locator("table.attributes tr", has_text="http.route")
    assert route.locator("td").inner_text() == "/api/dashboard"
    assert (
        detail.locator("table.resource tr", has_text="service.name").locator("td").inner_text()
        == "frontend"
    )
    assert "server" in detail.locator("table.facts").inner_text()
    page.wait_for_selector('#log-lines[data-state="loaded"]')
    assert "GET /api/dashboard" in detail.locator(".span-logs").inner_text()
    assert "of span frontend GET /api/dashboard" in page.locator("#logs-scope").inner_text()
    screenshot(page, "span-detail")
    detail.locator("button.close").click()
    logs = page.locator("#log-lines").inner_text()
    assert "frontend" in logs and "gateway" in logs and "db" in logs

    # Collapse the fan-out: its ten descendants disappear, and come back.
    rows.nth(fanout).locator(".wf-toggle").click()
    assert page.locator("#waterfall .wf-row:visible").count() == 17 - 10
    page.click("#expand-all")
    assert page.locator("#waterfall .wf-row:visible").count() == 17


def test_error_spans_and_the_exception_event(page, stack, screenshot):
    with requests.Session() as http:
        response = http.get(
            f"{stack.urls['frontend']}/api/users/1",
            headers={"Authorization": "Bearer not-a-real-token"},
            timeout=10,
        )
    assert response.status_code == 401
    _open_trace(page, stack.urls["console"], trace_id_of(response))
    errors = page.locator("#waterfall .wf-row.error")
    assert errors.count() >= 2
    page.locator("#waterfall .wf-row", has_text="auth.token_verify").click()
    event = page.locator("#span-detail .event.exception")
    event.wait_for()
    assert "exception.type" in event.inner_text()
    assert page.locator("#span-detail").locator("text=error").first.is_visible()


def test_lab_fires_a_journey_and_lands_on_its_trace(page, stack, screenshot):
    page.goto(f"{stack.urls['console']}/#/lab")
    page.locator('[data-journey="dashboard"]').wait_for()
    page.locator('[data-scenario="slow-query"]').wait_for()
    screenshot(page, "lab")
    page.click('[data-journey="dashboard"]')
    page.wait_for_selector('#view-trace[data-state="complete"]', timeout=ARRIVAL_MS)
    assert re.fullmatch(r"[0-9a-f]{32}", page.locator("#trace-id").inner_text())
    assert page.locator("#waterfall .wf-row").count() == 17
    # The journey's trace starts at the frontend: nothing of the console's is in it.
    first = page.locator("#waterfall .wf-row").first
    assert first.get_attribute("data-service") == "frontend"
    assert first.get_attribute("aria-level") == "1"


def test_switching_a_scenario_from_the_console(page, stack):
    gateway = stack.urls["gateway"] + "/admin/scenarios/sequential-fanout"
    headers = {TOKEN_HEADER: stack.admin_token}
    page.goto(f"{stack.urls['console']}/#/lab")
    box = page.locator('[data-scenario="sequential-fanout"] input[type=checkbox]')
    box.wait_for()
    assert not box.is_checked()
    try:
        box.check()
        page.wait_for_selector('[data-scenario="sequential-fanout"] .name.on')
        assert requests.get(gateway, headers=headers, timeout=5).json()["active"] is True
        page.locator('[data-scenario="sequential-fanout"] input[type=checkbox]').uncheck()
        page.wait_for_selector('[data-scenario="sequential-fanout"] .name:not(.on)')
    finally:
        requests.delete(gateway, headers=headers, timeout=5)
    assert requests.get(gateway, headers=headers, timeout=5).json()["active"] is False


def test_bad_and_unknown_trace_ids_say_so(page, stack):
    console = stack.urls["console"]
    page.goto(f"{console}/#/search")
    page.fill("#open-trace-id", "not-a-trace")
    page.click("#open-trace button")
    page.wait_for_selector('#view-trace[data-state="failed"]')
    assert "is not a trace id" in page.locator("#trace-arrival").inner_text()
    # A well-formed id Jaeger does not hold: the page waits (it may still arrive), then says so.
    page.goto(f"{console}/#/trace/{'ab' * 16}?backend=jaeger")
    # The first fetch also shows "waiting"; the retry after Jaeger's 404 says why it waits.
    page.locator("#trace-arrival", has_text="waiting for the trace to reach jaeger").wait_for()


def test_a_backend_that_is_down_gets_a_banner_saying_how_to_start_it(page, screenshot):
    closed = f"http://127.0.0.1:{find_free_port()}"
    with console_process({"JAEGER_QUERY_URL": closed}) as console:
        page.goto(f"{console}/#/search")
        banner = page.locator("#banner")
        banner.wait_for()
        assert (
            banner.inner_text() == f"jaeger at {closed} is not answering: start it with `make up`"
        )
        page.wait_for_selector('#view-search[data-state="failed"]')
        assert "is not answering" in page.locator("#search-status").inner_text()
        screenshot(page, "backend-down")


def test_tempo_search_shows_and_runs_its_traceql(page, screenshot):
    # Tempo cannot run here: its side is served from Tempo's documented answer formats.
    with serve() as tempo, serve() as jaeger:
        tempo.answer("/api/echo", (200, "echo"))
        tempo.answer("/api/search", (200, samples.tempo_search()))
        values = {"tagValues": [{"type": "string", "value": "frontend"}]}
        tempo.answer("/api/v2/search/tag/resource.service.name/values", (200, values))
        tempo.answer("/api/v2/search/tag/name/values", (200, {"tagValues": []}))
        jaeger.answer("/api/v3/services", (200, {"services": []}))
        with console_process(
            {"JAEGER_QUERY_URL": jaeger.url, "TEMPO_QUERY_URL": tempo.url}
        ) as console:
            page.goto(f"{console}/#/search?backend=tempo")
            page.wait_for_selector('#f-service option[value="frontend"]', state="attached")
            page.select_option("#f-service", "frontend")
            page.check("#f-errors")
            page.wait_for_function(
                "() => document.getElementById('f-traceql').value.includes('status = error')"
            )
            assert page.input_value("#f-traceql") == (
                '{ resource.service.name = "frontend" } && { status = error }'
            )
            own = '{ span.http.route = "/api/dashboard" } >> { resource.service.name = "db" }'
            page.fill("#f-traceql", own)
            page.click("#search-button")
            page.wait_for_selector('#view-search[data-state="done"]')
            deadline = time.monotonic() + 5
            while tempo.query_of("/api/search").get("q") != own and time.monotonic() < deadline:
                time.sleep(0.1)
            assert tempo.query_of("/api/search")["q"] == own
            assert page.locator("#results-table tbody tr").count() == 2
            screenshot(page, "tempo-traceql")


def _dashboard_trace(stack, user: int) -> str:
    with requests.Session() as http:
        account = log_in(http, stack.urls["frontend"], user)
        response = http.get(
            f"{stack.urls['frontend']}/api/dashboard", headers=account.headers, timeout=10
        )
    assert response.status_code == 200
    trace_id = trace_id_of(response)
    JaegerClient(stack.urls["jaeger"]).wait_for_trace(
        trace_id, min_spans=17, services=SERVICES, timeout=30
    )
    return trace_id


def test_the_golden_diff_of_a_sequential_fanout_marks_the_overlap_check(page, stack, screenshot):
    gateway = stack.urls["gateway"] + "/admin/scenarios/sequential-fanout"
    headers = {TOKEN_HEADER: stack.admin_token}
    requests.put(gateway, headers=headers, json={"params": {}}, timeout=5).raise_for_status()
    try:
        trace_id = _dashboard_trace(stack, 41)
    finally:
        requests.delete(gateway, headers=headers, timeout=5)
    _open_trace(page, stack.urls["console"], trace_id)
    page.wait_for_selector('#diff-box[data-state="differs"]')
    assert "differs from dashboard" in page.locator("#diff-verdict").inner_text()
    check = page.locator('#diff-checks .check[data-ok="false"]')
    assert "profile_call and activity_call overlap in time" in check.inner_text()
    fanout = page.locator('#diff-nodes .diff-node[data-status="differs"]')
    assert "gateway.dashboard_fanout" in fanout.inner_text()
    assert "concurrent children" in fanout.inner_text()
    # In the waterfall, the two calls are marked as what differs.
    marked = page.locator('#waterfall .wf-row[data-diff="differs"]')
    assert marked.count() >= 2
    # The finding says the same, and a click on it highlights the two calls.
    page.wait_for_selector('#findings-box[data-state="loaded"]')
    finding = page.locator('.finding[data-kind="sequential-fanout"]')
    finding.click()
    assert page.locator("#waterfall .wf-row.highlight").count() == 2
    screenshot(page, "golden-diff")


def test_compare_two_dashboards(page, stack, screenshot):
    a, b = _dashboard_trace(stack, 42), _dashboard_trace(stack, 43)
    page.goto(f"{stack.urls['console']}/#/compare?a={a}&b={b}&backend=jaeger")
    page.wait_for_selector('#view-compare[data-state="done"]')
    rows = page.locator("#compare-table tbody tr")
    assert rows.count() == 17  # every span matched: the same journey
    assert page.locator("#only-a").inner_text() == "none"
    assert page.locator("#only-b").inner_text() == "none"
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.service)")) == SERVICES
    assert "critical path" in page.locator("#compare-status").inner_text()
    screenshot(page, "compare")


def test_critical_path_over_the_dashboards(page, stack, dashboard, screenshot):
    page.goto(f"{stack.urls['console']}/#/critical-path?journey=dashboard&last=200&lookback=1h")
    page.wait_for_selector('#view-critical-path[data-state="done"]')
    rows = page.locator("#cp-table tbody tr")
    assert rows.count() >= 10
    services = set(rows.locator("td:first-child").all_inner_texts())
    assert services == SERVICES
    assert "dashboard trace(s)" in page.locator("#cp-status").inner_text()
    screenshot(page, "critical-path")


def test_the_service_map_shows_the_five_services_and_their_calls(page, stack, screenshot):
    with requests.Session() as http:
        account = log_in(http, stack.urls["frontend"], 44)
        for _ in range(10):
            for path in ("/api/dashboard", f"/api/users/{account.user_id}"):
                url = stack.urls["frontend"] + path
                assert http.get(url, headers=account.headers, timeout=10).status_code == 200
    # Spans leave the services every 5 s and the span metrics are flushed every 5 s.
    time.sleep(12)
    page.goto(f"{stack.urls['console']}/#/map?window=5m&backend=jaeger")
    page.wait_for_selector('#view-map[data-state="done"]', timeout=30_000)
    nodes = page.evaluate("TL.mapGraph.nodes().map(n => n.id())")
    assert SERVICES | {"postgresql"} <= set(nodes)
    edges = set(page.evaluate("TL.mapGraph.edges().map(e => e.id())"))
    calls = {"frontend->gateway", "gateway->auth", "gateway->user", "user->db", "db->postgresql"}
    assert calls <= edges
    rows = page.locator("#map-services tbody tr")
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.service)")) >= SERVICES
    frontend = page.locator('#map-services tr[data-service="frontend"] td').all_inner_texts()
    assert frontend[1].endswith("/s") and frontend[4].endswith("ms")  # rate and p50
    assert "(" in frontend[6]  # where the sampling probability came from
    edge_rows = page.locator("#map-edges tbody tr")
    assert calls <= set(edge_rows.evaluate_all("rows => rows.map(r => r.dataset.edge)"))
    # Every node is drawn inside the canvas, none on top of another.
    boxes = page.evaluate(
        "TL.mapGraph.nodes().map(n => { const b = n.renderedBoundingBox(); "
        "return [b.x1, b.y1, b.x2, b.y2]; })"
    )
    width, height = page.evaluate(
        "[document.getElementById('map-graph').clientWidth, "
        "document.getElementById('map-graph').clientHeight]"
    )
    assert all(x1 >= 0 and y1 >= 0 and x2 <= width and y2 <= height for x1, y1, x2, y2 in boxes)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    assert "Every span is sampled" in page.locator("#map-status").inner_text()
    screenshot(page, "service-map")
