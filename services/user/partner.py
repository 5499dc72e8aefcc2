"""A stand-in for the external avatar API of scenario slow-external.

The lab has no third party to call, so the fault code starts one inside the
user process on first use: a bare asyncio HTTP/1.1 server on 127.0.0.1 (an
ephemeral port), uninstrumented like any partner's service, so the call to
it is a client span with nothing under it. It answers ``GET
/avatars/<id>?delay_ms=N`` after N milliseconds (bounded by the scenario's
parameter), with a small JSON body; every connection is closed after one
answer.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs, urlsplit

MAX_DELAY_MS = 10_000
_HEAD_LIMIT = 8192


class Partner:
    """The stand-in server, started lazily on the running loop."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._lock = asyncio.Lock()

    async def url(self) -> str:
        """The partner's base URL (``http://127.0.0.1:<port>``), starting it if needed."""
        async with self._lock:
            if self._server is None:
                self._server = await asyncio.start_server(_answer, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        """Stop listening (idempotent)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


def delay_of(target: str) -> float:
    """Seconds the partner waits before answering ``target`` (path and query)."""
    raw = parse_qs(urlsplit(target).query).get("delay_ms", ["0"])[0]
    try:
        delay_ms = float(raw)
    except ValueError:
        return 0.0
    return min(max(delay_ms, 0.0), MAX_DELAY_MS) / 1000


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _HEAD_LIMIT:
            return
        _method, target, _version = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        await asyncio.sleep(delay_of(target))
        body = json.dumps({"avatar": urlsplit(target).path}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError):
        pass
    finally:
        writer.close()
