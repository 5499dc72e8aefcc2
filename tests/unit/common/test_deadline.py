"""Request budgets: carried hop to hop, cut by queued time, and no work once they are gone."""

from __future__ import annotations

import time

import pytest
from opentelemetry.trace import SpanKind

from services.auth.app import create_app as create_auth
from services.auth.settings import Settings as AuthSettings
from services.common import deadline, gthread_admission
from services.common.admission import SHED_EVENT, SHED_REASON
from services.common.config import ServiceSettings
from services.common.errors import ApiError
from services.common.http import AsyncJsonClient
from services.frontend.app import create_app as create_frontend
from services.frontend.settings import Settings as FrontendSettings
from services.user.app import create_app as create_user
from services.user.settings import Settings as UserSettings
from tests.unit.status_table import STALL, Row, downstream

PROFILE = {"id": 7, "email": "user0007@tracelab.test", "name": "U", "created_at": "2024"}
OK = Row("ok", 200, PROFILE)
BUDGET = deadline.BUDGET_HEADER


def _service(name: str, **options: float) -> ServiceSettings:
    return ServiceSettings(name=name, port=8080, http_timeout_s=5.0, **options)


def _sent_budget_ms(server) -> int:
    (request,) = server.requests
    return int(request[2][BUDGET])


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1500", 1.5),
        ("0", 0.0),
        ("-20", 0.0),
        ("2.5", 0.0025),
        (None, None),
        ("x", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_budget_header_values(value, seconds):
    assert deadline.parse_budget_ms(value) == seconds


def test_a_call_gets_the_budget_left_as_timeout_and_header():
    assert deadline.for_call("svc", 5.0) == (5.0, {})  # no budget: the client's timeout
    with deadline.budget(1.0):
        timeout, header = deadline.for_call("svc", 5.0)
        assert 0.9 < timeout <= 1.0
        assert 900 < int(header[BUDGET]) <= 1000 - deadline.REPLY_MARGIN_S * 1000
        assert deadline.for_call("svc", 0.2)[0] == 0.2  # the shorter of the two
    with deadline.budget(0.01), pytest.raises(deadline.DeadlineExceeded):
        deadline.for_call("svc", 5.0)  # less than the reply margin: not worth calling


async def test_a_hop_passes_on_what_is_left_of_its_budget(aiohttp_client):
    with downstream(OK) as (url, server):
        user = await aiohttp_client(create_user(UserSettings(_service("user"), db_url=url)))
        response = await user.get("/users/7", headers={BUDGET: "2000"})
        assert response.status == 200
        assert 1500 < _sent_budget_ms(server) <= 2000 - deadline.REPLY_MARGIN_S * 1000


async def test_a_hop_called_without_a_budget_starts_its_own(aiohttp_client):
    with downstream(OK) as (url, server):
        settings = UserSettings(_service("user", request_budget_s=1.0), db_url=url)
        user = await aiohttp_client(create_user(settings))
        assert (await user.get("/users/7")).status == 200
        assert 500 < _sent_budget_ms(server) <= 1000


def test_the_edge_ignores_the_callers_budget():
    # An internet caller does not choose our budget, not even a shorter one.
    with downstream(Row("ok", 200, {**PROFILE, "id": 2})) as (url, server):
        settings = FrontendSettings(_service("frontend", request_budget_s=2.0), gateway_url=url)
        response = (
            create_frontend(settings)
            .test_client()
            .get("/api/users/2", headers={BUDGET: "0", "Authorization": "Bearer t"})
        )
        assert response.status_code == 200
        assert 1500 < _sent_budget_ms(server) <= 2000


def _assert_refused_at_once(status, body, elapsed, server, spans):
    assert status == 504
    assert body["error"]["code"] == "deadline_exceeded"
    assert elapsed < 0.5
    assert server.requests == [], "work past the budget was started"
    (span,) = [s for s in spans.all() if s.kind is SpanKind.SERVER]
    assert [e.name for e in span.events] == [deadline.EXCEEDED_EVENT]


async def test_an_aiohttp_hop_without_budget_left_answers_504_at_once(aiohttp_client, spans):
    with downstream(OK) as (url, server):
        user = await aiohttp_client(create_user(UserSettings(_service("user"), db_url=url)))
        started = time.monotonic()
        response = await user.get("/users/7", headers={BUDGET: "0"})
        body = await response.json()
        _assert_refused_at_once(response.status, body, time.monotonic() - started, server, spans)


def test_a_flask_hop_without_budget_left_answers_504_at_once(spans):
    with downstream(OK) as (url, server):
        auth = create_auth(AuthSettings(_service("auth"), db_url=url)).test_client()
        started = time.monotonic()
        response = auth.post(
            "/login", json={"email": "a@b.c", "password": "p"}, headers={BUDGET: "0"}
        )
        elapsed = time.monotonic() - started
        _assert_refused_at_once(response.status_code, response.get_json(), elapsed, server, spans)


def _arrived(seconds_ago: float, *, shed: bool = False) -> gthread_admission.Arrival:
    return gthread_admission.Arrival(time.monotonic() - seconds_ago, shed, in_pool=24, threads=8)


@pytest.mark.parametrize(
    ("queued_s", "shed", "status", "code", "reason"),
    [
        (3.5, False, 504, "deadline_exceeded", None),
        (1.5, False, 503, "overloaded", "queue_timeout"),
        (0.0, True, 503, "overloaded", "queue_full"),
    ],
    ids=["budget gone while queued", "queued too long", "queue full"],
)
def test_queued_time_counts(spans, queued_s, shed, status, code, reason):
    """The worker's arrival stamp (services.common.gthread_admission) starts the budget."""
    arrival = _arrived(queued_s, shed=shed)
    with downstream(OK) as (url, server):
        settings = AuthSettings(_service("auth", max_queue_wait_s=1.0), db_url=url)
        auth = create_auth(settings).test_client()
        with gthread_admission.serving(arrival):
            response = auth.post("/login", json={"email": "a@b.c", "password": "p"})
        assert response.status_code == status
        assert response.get_json()["error"]["code"] == code
        assert server.requests == []
    (span,) = [s for s in spans.all() if s.kind is SpanKind.SERVER]
    assert span.attributes[deadline.QUEUE_WAIT_ATTRIBUTE] >= queued_s * 1000
    if reason is not None:
        assert response.headers["Retry-After"] == "1"
        assert span.attributes[SHED_REASON] == reason
        assert span.attributes["tracelab.shed.in_flight"] == 8
        assert span.attributes["tracelab.shed.queued"] == 16
        assert [e.name for e in span.events] == [SHED_EVENT]


def test_health_probes_are_never_shed():
    settings = AuthSettings(_service("auth"), db_url="http://127.0.0.1:1")
    auth = create_auth(settings).test_client()
    with gthread_admission.serving(_arrived(5.0, shed=True)):
        assert auth.get("/healthz").status_code == 200


async def test_a_retry_loop_stops_when_the_budget_is_gone():
    with downstream(Row("stall", STALL)) as (url, server):
        client = AsyncJsonClient("svc", url, timeout_s=5)
        started = time.monotonic()
        try:
            with deadline.budget(0.5), pytest.raises(ApiError) as info:
                await client.request_retrying("GET", "/x", attempts=10, attempt_timeout_s=0.2)
        finally:
            await client.close()
        elapsed = time.monotonic() - started
    assert info.value.status == 504
    assert len(server.requests) == 3  # 0.2 + 0.2 + the 0.1 s left, then no more
    assert elapsed < 1.0
