"""A fake of the frontend's public API that records what load generators send."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web

GOOD_TOKEN_PREFIX = "token-"


@dataclass
class Recorder:
    """Every request seen: method, path and headers."""

    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def build_app(recorder: Recorder) -> web.Application:
    """The frontend's /api routes with the real status codes, no services behind."""

    def authorised(request: web.Request) -> bool:
        return request.headers.get("Authorization", "").startswith(f"Bearer {GOOD_TOKEN_PREFIX}")

    @web.middleware
    async def record(request: web.Request, handler):  # type: ignore[no-untyped-def]
        recorder.requests.append((request.method, request.path, dict(request.headers)))
        response = await handler(request)
        # Like the real frontend: every answer names its trace.
        response.headers["traceresponse"] = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
        return response

    async def login(request: web.Request) -> web.Response:
        body = await request.json()
        number = int(body["email"][4:8])
        if body["password"] != f"tracelab-pass-{number:04d}":
            return web.json_response({"error": {"status": 401}}, status=401)
        return web.json_response({"token": f"{GOOD_TOKEN_PREFIX}{number}", "user_id": number})

    async def user(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"error": {"status": 401}}, status=401)
        if int(request.match_info["id"]) > 1000:
            return web.json_response({"error": {"status": 404}}, status=404)
        return web.json_response({"id": int(request.match_info["id"])})

    async def dashboard(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"error": {"status": 401}}, status=401)
        return web.json_response({"profile": {}, "activity": []})

    app = web.Application(middlewares=[record])
    app.router.add_post("/api/login", login)
    app.router.add_get("/api/users/{id}", user)
    app.router.add_get("/api/dashboard", dashboard)
    return app


@contextmanager
def serve_in_thread() -> Iterator[tuple[str, Recorder]]:
    """Run the fake on a free port in a background thread; yield (base URL, recorder)."""
    recorder = Recorder()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(build_app(recorder))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", recorder
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.run_until_complete(runner.cleanup())
        loop.close()
