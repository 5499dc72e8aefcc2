"""The shared JSON clients against real local HTTP servers."""

import asyncio
import socket
import threading

import pytest
from aiohttp import web
from opentelemetry.trace import SpanKind, StatusCode

from services.common import deadline
from services.common.errors import ApiError
from services.common.http import AsyncJsonClient, SyncJsonClient
from tests.unit.status_table import CLIENT_ROWS, SHORT_BUDGET_MS, downstream


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"seen_traceparent": request.headers.get("traceparent")})


async def _refused(_: web.Request) -> web.Response:
    body = {"error": {"status": 401, "code": "invalid_token", "message": "bad token"}}
    return web.json_response(body, status=401)


def _routes() -> web.Application:
    app = web.Application()
    app.router.add_get("/ok", _ok)
    app.router.add_get("/refused", _refused)
    app.router.add_get("/healthz", _ok)
    return app


@pytest.fixture
def server_url():
    """A real aiohttp server in its own thread and event loop."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(_routes())
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.run_until_complete(runner.cleanup())
    loop.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _walk(row, call):
    """Run ``call(base_url)`` against a downstream playing ``row``; the ApiError raised."""
    with (
        downstream(row) as (url, _),
        deadline.budget(SHORT_BUDGET_MS / 1000),
        pytest.raises(ApiError) as info,
    ):
        call(url)
    return info.value


def _assert_mapped(row, error: ApiError) -> None:
    assert (error.status, error.code) == (row.status, row.code)
    assert error.message == row.expected_message("svc")
    assert error.details is None, "a downstream's details were kept"
    assert error.headers().get("Retry-After") == (
        None if row.retry_after is None else str(row.retry_after)
    )


@pytest.mark.parametrize("row", CLIENT_ROWS, ids=[row.key for row in CLIENT_ROWS])
def test_sync_client_walks_the_status_table(row):
    def call(url: str) -> None:
        SyncJsonClient("svc", url, timeout_s=5).request("GET", "/anything")

    _assert_mapped(row, _walk(row, call))


@pytest.mark.parametrize("row", CLIENT_ROWS, ids=[row.key for row in CLIENT_ROWS])
async def test_async_client_walks_the_status_table(row):
    async def call(url: str) -> None:
        client = AsyncJsonClient("svc", url, timeout_s=5)
        try:
            await client.request("GET", "/anything")
        finally:
            await client.close()

    with (
        downstream(row) as (url, _),
        deadline.budget(SHORT_BUDGET_MS / 1000),
        pytest.raises(ApiError) as info,
    ):
        await call(url)
    _assert_mapped(row, info.value)


def test_sync_client_refused_connection_is_503():
    client = SyncJsonClient("svc", f"http://127.0.0.1:{_closed_port()}", timeout_s=1)
    with pytest.raises(ApiError) as info:
        client.request("GET", "/ok")
    assert (info.value.status, info.value.code) == (503, "service_unavailable")
    assert not client.healthy()


async def test_async_client_refused_connection_is_503():
    client = AsyncJsonClient("svc", f"http://127.0.0.1:{_closed_port()}", timeout_s=1)
    try:
        with pytest.raises(ApiError) as info:
            await client.request("GET", "/ok")
        assert not await client.healthy()
    finally:
        await client.close()
    assert info.value.status == 503


def test_sync_client_makes_a_client_span_and_propagates(server_url, spans):
    payload = SyncJsonClient("svc", server_url, timeout_s=1).request("GET", "/ok")
    span = spans.one("GET")
    assert span.kind is SpanKind.CLIENT
    context = span.get_span_context()
    assert payload["seen_traceparent"].split("-")[1] == format(context.trace_id, "032x")
    assert span.attributes["http.response.status_code"] == 200


async def test_async_client_marks_a_4xx_client_span_as_error(server_url, spans):
    client = AsyncJsonClient("svc", server_url, timeout_s=1)
    try:
        with pytest.raises(ApiError):
            await client.request("GET", "/refused")
    finally:
        await client.close()
    span = spans.one("GET")
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.ERROR


def test_health_checks_make_no_spans(server_url, spans):
    assert SyncJsonClient("svc", server_url, timeout_s=1).healthy()
    assert spans.all() == []
