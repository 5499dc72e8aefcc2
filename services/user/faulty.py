"""The user service's misbehaving variants, one per workshop scenario.

Each function is what a well-meant but wrong implementation would do; the
handlers in ``services.user.routes`` call them only while the scenario is on
(``services.common.faults``). The docstrings name the fix taught in
docs/workshop/.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from services.common.models import Activity
from services.db.client import DbAsyncClient, DbSyncClient
from services.user.partner import Partner


async def activity_one_by_one(db: DbAsyncClient, user_id: int, limit: int) -> list[Activity]:
    """n-plus-one: fetch the ids, then every entry with its own call, one after the other.

    Fix: one query for the whole page (``db.get_activity``).
    """
    ids = await db.get_activity_ids(user_id, limit)
    return [await db.get_activity_entry(activity_id) for activity_id in ids]


async def activity_in_thread_pool(db: DbSyncClient, user_id: int, limit: int) -> list[Activity]:
    """lost-context: hand the (blocking) fetch to the default thread pool.

    ``loop.run_in_executor`` does not copy ``contextvars`` into the worker
    thread, so the client span there has no parent: a new trace starts.
    Fix: ``asyncio.to_thread`` (copies the context) or
    ``contextvars.copy_context().run`` - or stay async.
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, db.get_activity, user_id, limit)


async def activity_retrying(
    db: DbAsyncClient, user_id: int, limit: int, params: dict[str, Any]
) -> list[Activity]:
    """retry-storm: a short per-attempt timeout and immediate retries against a slow db.

    Each attempt gives up before db answers, and db keeps working on every
    abandoned attempt. Fix: a timeout above the dependency's latency, a
    retry budget with backoff and jitter, and a deadline passed downstream.
    """
    return await db.get_activity_retrying(
        user_id,
        limit,
        attempts=int(params["attempts"]),
        attempt_timeout_s=params["attempt_timeout_ms"] / 1000,
    )


def block_event_loop(params: dict[str, Any]) -> None:
    """blocking-loop: a synchronous call inside an async handler.

    ``time.sleep`` stands for any blocking I/O or CPU-bound work: while it
    runs, the event loop serves no other request. Fix: ``await
    asyncio.sleep``/an async client, or ``await asyncio.to_thread(...)``.
    """
    time.sleep(params["block_ms"] / 1000)


async def avatar_without_timeout(partner: Partner, user_id: int, params: dict[str, Any]) -> None:
    """slow-external: wait for an external avatar API, with no timeout at all.

    ``ClientTimeout(total=None)`` waits as long as the partner takes (here
    ``delay_ms``); the profile cannot answer sooner, and every profile
    request holds a connection meanwhile. Fix: a timeout well under the
    caller's budget (``services.common.deadline.for_call``), and a fallback
    (no avatar) when it fires - or fetch it off the request path.
    """
    url = f"{await partner.url()}/avatars/{user_id}"
    query = {"delay_ms": int(params["delay_ms"])}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session,
        session.get(url, params=query) as response,
    ):
        await response.read()
