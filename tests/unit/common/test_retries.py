"""AsyncJsonClient.request_retrying: one client span per attempt, resend_count on retries."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from services.common.errors import ApiError
from services.common.http import RESEND_COUNT, AsyncJsonClient


async def test_each_retry_is_its_own_client_span_with_its_resend_count(aiohttp_server, spans):
    calls = []

    async def slow(_: web.Request) -> web.Response:
        calls.append(1)
        await asyncio.sleep(0.3)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/slow", slow)
    server = await aiohttp_server(app)
    client = AsyncJsonClient("slow", str(server.make_url("")), timeout_s=5)
    try:
        with pytest.raises(ApiError) as failed:
            await client.request_retrying("GET", "/slow", attempts=3, attempt_timeout_s=0.05)
    finally:
        await client.close()
    assert failed.value.status == 504
    assert len(calls) == 3
    clients = [s for s in spans.all() if s.kind.name == "CLIENT"]
    assert len(clients) == 3
    # The first attempt carries no resend_count; the retries 1 and 2.
    counts = sorted(s.attributes.get(RESEND_COUNT, 0) for s in clients)
    assert counts == [0, 1, 2]
    assert sum(RESEND_COUNT not in s.attributes for s in clients) == 1


async def test_a_4xx_is_not_retried(aiohttp_server, spans):
    async def missing(_: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "nope", "message": "no"}}, status=404)

    app = web.Application()
    app.router.add_get("/missing", missing)
    server = await aiohttp_server(app)
    client = AsyncJsonClient("x", str(server.make_url("")), timeout_s=5)
    try:
        with pytest.raises(ApiError) as failed:
            await client.request_retrying("GET", "/missing", attempts=3, attempt_timeout_s=1)
    finally:
        await client.close()
    assert failed.value.status == 404
    assert len([s for s in spans.all() if s.kind.name == "CLIENT"]) == 1
