"""Click through /lab in a real headless Chromium and read the rendered waterfall."""

from __future__ import annotations

import re

import pytest
import requests

from services.common.admin import TOKEN_HEADER, admin_token

pytestmark = pytest.mark.e2e

WATERFALL_TIMEOUT_MS = 45_000


def _fire(page, frontend: str, journey: str) -> tuple[str, list[str]]:
    page.goto(f"{frontend}/lab")
    page.locator(f'[data-journey="{journey}"]').click()
    page.wait_for_selector('#waterfall[data-state="complete"]', timeout=WATERFALL_TIMEOUT_MS)
    trace_id = page.locator("#trace-id").inner_text()
    services = page.locator("#waterfall .wf-row").evaluate_all(
        "rows => rows.map(r => r.dataset.service)"
    )
    return trace_id, services


def test_dashboard_journey_draws_a_waterfall_with_every_service(page, stack):
    trace_id, services = _fire(page, stack.urls["frontend"], "dashboard")
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id)
    assert set(services) == {"frontend", "gateway", "auth", "user", "db"}
    assert services[0] == "frontend"
    assert len(services) >= 17
    jaeger = page.locator("#jaeger-link").get_attribute("href")
    grafana = page.locator("#grafana-link").get_attribute("href")
    assert jaeger.endswith(f"/trace/{trace_id}")
    assert trace_id in grafana and "/explore?" in grafana
    # Log correlation: the access log lines of this trace, from several services.
    page.wait_for_function(
        "() => document.querySelector('#log-lines').textContent.includes('GET /api/dashboard')"
    )
    logs = page.locator("#log-lines").inner_text()
    assert "frontend" in logs and "gateway" in logs


def test_bad_token_journey_shows_the_error_spans(page, stack):
    _, services = _fire(page, stack.urls["frontend"], "bad_token")
    assert set(services) == {"frontend", "gateway", "auth"}
    assert page.locator("#trace-status").inner_text() == "401"
    assert page.locator("#waterfall .wf-bar.error").count() >= 1


def test_switching_a_scenario_from_the_console(page, stack):
    frontend = stack.urls["frontend"]
    page.goto(f"{frontend}/lab")
    box = page.locator('[data-scenario="sequential-fanout"] input[type=checkbox]')
    box.wait_for()
    assert not box.is_checked()
    try:
        box.check()
        page.wait_for_selector('[data-scenario="sequential-fanout"] .name.on')
        state = requests.get(
            stack.urls["gateway"] + "/admin/scenarios/sequential-fanout",
            headers={TOKEN_HEADER: admin_token()},
            timeout=5,
        ).json()
        assert state["active"] is True
        page.locator('[data-scenario="sequential-fanout"] input[type=checkbox]').uncheck()
        page.wait_for_selector('[data-scenario="sequential-fanout"] .name:not(.on)')
    finally:
        requests.delete(
            stack.urls["gateway"] + "/admin/scenarios/sequential-fanout",
            headers={TOKEN_HEADER: admin_token()},
            timeout=5,
        )
    state = requests.get(
        stack.urls["gateway"] + "/admin/scenarios/sequential-fanout",
        headers={TOKEN_HEADER: admin_token()},
        timeout=5,
    ).json()
    assert state["active"] is False
