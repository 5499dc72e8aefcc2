"""Bounded admission of the aiohttp services: in flight, queued, and shed at once past that."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from opentelemetry.trace import SpanKind, StatusCode

from services.common import admission
from services.common.aiohttp_support import create_aiohttp_app
from services.common.config import ServiceSettings

SLOW_S = 0.5


def _app(release: asyncio.Event | None = None, **limits: float) -> web.Application:
    settings = ServiceSettings(name="svc", port=8081, **limits)
    app = create_aiohttp_app(settings)

    async def slow(_: web.Request) -> web.Response:
        if release is not None:
            await release.wait()
        else:
            await asyncio.sleep(SLOW_S)
        return web.json_response({"ok": True})

    app.router.add_get("/slow", slow)
    return app


async def _timed_get(client, path: str) -> tuple[int, dict, dict, float]:
    started = time.monotonic()
    response = await client.get(path)
    body = await response.json()
    return response.status, dict(response.headers), body, time.monotonic() - started


async def test_past_in_flight_and_queue_requests_are_shed_at_once(aiohttp_client, spans):
    release = asyncio.Event()
    client = await aiohttp_client(_app(release, max_in_flight=2, max_queued=1))
    calls = [asyncio.create_task(_timed_get(client, "/slow")) for _ in range(6)]
    # Two in flight and one queued wait for the release; the other three are answered now.
    await asyncio.sleep(0.3)
    shed = [task.result() for task in calls if task.done()]
    assert len(shed) == 3
    for status, headers, body, elapsed in shed:
        assert status == 503
        assert headers["Retry-After"] == "1"
        assert body["error"]["code"] == "overloaded"
        assert body["error"]["trace_id"]
        assert elapsed < 0.3
    release.set()
    assert sorted(result[0] for result in await asyncio.gather(*calls)) == [200] * 3 + [503] * 3

    shed_spans = [s for s in spans.all() if s.attributes.get(admission.SHED_REASON)]
    assert len(shed_spans) == 3
    for span in shed_spans:
        assert span.kind is SpanKind.SERVER
        assert span.status.status_code is StatusCode.ERROR  # a 503 server span
        assert span.attributes[admission.SHED_REASON] == admission.QUEUE_FULL
        assert span.attributes["tracelab.shed.in_flight"] == 2
        assert span.attributes["tracelab.shed.queued"] == 1
        assert [e.name for e in span.events] == [admission.SHED_EVENT]


async def test_a_request_queued_too_long_is_shed(aiohttp_client, spans):
    client = await aiohttp_client(_app(max_in_flight=1, max_queued=4, max_queue_wait_s=0.1))
    first = asyncio.create_task(_timed_get(client, "/slow"))
    await asyncio.sleep(0.05)
    status, headers, body, elapsed = await _timed_get(client, "/slow")
    assert (status, body["error"]["code"], headers["Retry-After"]) == (503, "overloaded", "1")
    assert 0.08 < elapsed < SLOW_S
    assert (await first)[0] == 200
    (shed,) = [s for s in spans.all() if s.attributes.get(admission.SHED_REASON)]
    assert shed.attributes[admission.SHED_REASON] == admission.QUEUE_TIMEOUT
    assert shed.attributes["tracelab.shed.waited_ms"] >= 80


async def test_a_queued_request_is_served_when_a_slot_frees(aiohttp_client, spans):
    client = await aiohttp_client(_app(max_in_flight=1, max_queued=1, max_queue_wait_s=2))
    results = await asyncio.gather(_timed_get(client, "/slow"), _timed_get(client, "/slow"))
    assert sorted(r[0] for r in results) == [200, 200]
    waited = [s.attributes.get("tracelab.queue.wait_ms") for s in spans.all()]
    assert any(w is not None and w >= SLOW_S * 1000 * 0.8 for w in waited)


async def test_health_probes_pass_a_full_gate(aiohttp_client):
    release = asyncio.Event()
    client = await aiohttp_client(_app(release, max_in_flight=1, max_queued=0))
    busy = asyncio.create_task(client.get("/slow"))
    await asyncio.sleep(0.05)
    assert (await client.get("/slow")).status == 503
    assert (await client.get("/healthz")).status == 200
    release.set()
    assert (await busy).status == 200
