"""Every hop walks the status table of docs/architecture.md (tests/unit/status_table.py).

A hop's downstream answers each row's way for real (a local HTTP server, a
closed port, a stall past the budget); the hop's own answer must carry the
row's status, code, message and ``Retry-After``, and never the downstream's
``details``. The documented table must say what the rows say.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.auth.app import create_app as create_auth
from services.auth.settings import Settings as AuthSettings
from services.common import deadline
from services.common.config import ServiceSettings
from services.frontend.app import create_app as create_frontend
from services.frontend.settings import Settings as FrontendSettings
from services.gateway.app import create_app as create_gateway
from services.gateway.settings import Settings as GatewaySettings
from services.user.app import create_app as create_user
from services.user.settings import Settings as UserSettings
from tests.unit.status_table import ROW_IDS, ROWS, SHORT_BUDGET_MS, STALL, assert_row, downstream

ARCHITECTURE = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"
AUTHORIZATION = {"Authorization": "Bearer some-token"}
LOGIN = {"email": "user0001@tracelab.test", "password": "tracelab-pass-0001"}


def _service(name: str, port: int, row) -> ServiceSettings:
    # Success paths get a generous timeout; only the stall row runs out of budget.
    budget_s = SHORT_BUDGET_MS / 1000 if row.answer == STALL else 5.0
    return ServiceSettings(name=name, port=port, http_timeout_s=5.0, request_budget_s=budget_s)


def _budget_header(row) -> dict[str, str]:
    return {deadline.BUDGET_HEADER: str(SHORT_BUDGET_MS)} if row.answer == STALL else {}


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_frontend_walks_the_table(row):
    with downstream(row) as (url, _):
        settings = FrontendSettings(service=_service("frontend", 8080, row), gateway_url=url)
        response = (
            create_frontend(settings).test_client().get("/api/users/2", headers=AUTHORIZATION)
        )
    assert_row(row, response.status_code, response.headers, response.get_json(), "gateway")


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_auth_walks_the_table(row):
    with downstream(row) as (url, _):
        settings = AuthSettings(service=_service("auth", 8082, row), db_url=url)
        response = (
            create_auth(settings)
            .test_client()
            .post("/login", json=LOGIN, headers=_budget_header(row))
        )
    assert_row(row, response.status_code, response.headers, response.get_json(), "db")


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
async def test_gateway_walks_the_table(aiohttp_client, row):
    with downstream(row) as (url, _):
        settings = GatewaySettings(
            service=_service("gateway", 8081, row), auth_url=url, user_url=url
        )
        client = await aiohttp_client(create_gateway(settings))
        response = await client.get(
            "/api/users/7", headers={**AUTHORIZATION, **_budget_header(row)}
        )
        body = await response.json()
    assert_row(row, response.status, response.headers, body, "auth")


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
async def test_user_walks_the_table(aiohttp_client, row):
    with downstream(row) as (url, _):
        settings = UserSettings(service=_service("user", 8083, row), db_url=url)
        client = await aiohttp_client(create_user(settings))
        response = await client.get("/users/7", headers=_budget_header(row))
        body = await response.json()
    assert_row(row, response.status, response.headers, body, "db")


def _documented_rows() -> dict[str, list[str]]:
    """``key -> [status, code, Retry-After]`` cells of the table in docs/architecture.md."""
    section = ARCHITECTURE.read_text().split("### Status mapping", 1)[1].split("\n#", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        key = re.fullmatch(r"`([\w-]+)`", cells[0])
        if key and len(cells) == 5:
            rows[key.group(1)] = [cells[2], cells[3].split(" (")[0], cells[4]]
    return rows


def _cells(row) -> list[str]:
    """How the documented table states ``row``'s expectations."""
    passed_on = isinstance(row.body, dict) and row.body["error"]["code"] == row.code
    if isinstance(row.answer, int) and 400 <= row.answer < 500:
        status = "its status"
    else:
        status = str(row.status)
    code = "its code" if passed_on else f"`{row.code}`"
    if row.retry_after is None:
        retry_after = "-"
    else:
        retry_after = "its value" if "Retry-After" in row.headers else str(row.retry_after)
    return [status, code, retry_after]


def test_the_documented_table_is_the_tested_one():
    documented = _documented_rows()
    tested = {row.key: _cells(row) for row in ROWS}
    assert tested == {key: documented.get(key) for key in tested}
