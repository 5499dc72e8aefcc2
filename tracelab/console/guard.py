"""Host and Origin checks: a foreign web page cannot drive the console.

The console can switch faults on and read every service's logs, and it
listens on loopback. A page on another site could still reach it through
the browser: by DNS rebinding (a name of the attacker's that resolves to
127.0.0.1, so the ``Host`` header is foreign) or by a cross-site form or
``fetch`` (the ``Origin`` header is foreign). So every request must name
the console by one of its own hosts, and a request that carries an
``Origin`` must come from one of them; state-changing requests from another
site are refused even when the browser leaves ``Origin`` out. Health probes
are exempt (they reveal nothing, and Kubernetes sends the pod's address).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Request

from services.common.errors import ApiError
from services.common.health import HEALTH_PATHS

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class HostGuard:
    """Which ``Host`` values (``name:port``) the console answers to."""

    def __init__(self, port: int, extra_hosts: Iterable[str] = ()) -> None:
        allowed = {f"{name}:{port}" for name in LOOPBACK_NAMES}
        if port == 80:
            allowed.update(LOOPBACK_NAMES)
        allowed.update(host.strip().lower() for host in extra_hosts if host.strip())
        self.allowed = frozenset(allowed)
        self.port = port

    def check(self, request: Request) -> None:
        """Raise a 403 :class:`ApiError` for a foreign ``Host`` or ``Origin``."""
        if request.path in HEALTH_PATHS:
            return
        host = (request.headers.get("Host") or "").strip().lower()
        if host not in self.allowed:
            raise ApiError(
                403,
                "host_not_allowed",
                f"the console answers as http://127.0.0.1:{self.port} (Host {host!r} refused, "
                "a protection against DNS rebinding); "
                "add other names with TRACELAB_CONSOLE_ALLOWED_HOSTS",
            )
        origin = request.headers.get("Origin")
        if origin is not None:
            if urlsplit(origin).netloc.lower() not in self.allowed:
                raise ApiError(
                    403, "origin_not_allowed", f"requests from {origin!r} are not accepted"
                )
        elif request.method not in SAFE_METHODS and request.headers.get(
            "Sec-Fetch-Site", "same-origin"
        ) not in ("same-origin", "none"):
            raise ApiError(403, "origin_not_allowed", "cross-site requests are not accepted")
