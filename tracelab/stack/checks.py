"""Readiness checks: small callables that answer "ready now?" without waiting.

They are stored in ``.run/state.json`` as plain dicts so ``tracelab status``
can run them again from another process.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tracelab.stack.ports import can_connect

CHECK_TIMEOUT = 1.0


@dataclass(frozen=True)
class HttpCheck:
    """Ready when ``GET url`` answers 200."""

    url: str

    def __call__(self) -> bool:
        """Return True when the URL answers 200 within the check timeout."""
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port or 80, timeout=CHECK_TIMEOUT
        )
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            connection.request("GET", path)
            return connection.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def to_dict(self) -> dict[str, Any]:
        """Serialise for the state file."""
        return {"http": self.url}


@dataclass(frozen=True)
class TcpCheck:
    """Ready when a TCP connection to ``host:port`` succeeds."""

    host: str
    port: int

    def __call__(self) -> bool:
        """Return True when the port accepts a connection."""
        return can_connect(self.port, self.host, timeout=CHECK_TIMEOUT)

    def to_dict(self) -> dict[str, Any]:
        """Serialise for the state file."""
        return {"tcp": f"{self.host}:{self.port}"}


@dataclass(frozen=True)
class PostgresCheck:
    """Ready when a session with ``dsn`` runs ``SELECT 1``."""

    dsn: str

    def __call__(self) -> bool:
        """Return True when the database accepts a query."""
        import psycopg

        try:
            with psycopg.connect(self.dsn, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def to_dict(self) -> dict[str, Any]:
        """Serialise for the state file."""
        return {"postgres": self.dsn}


Check = HttpCheck | TcpCheck | PostgresCheck


def check_from_dict(data: dict[str, Any]) -> Check:
    """Rebuild a check written by ``to_dict``."""
    if "http" in data:
        return HttpCheck(data["http"])
    if "tcp" in data:
        host, _, port = str(data["tcp"]).rpartition(":")
        return TcpCheck(host, int(port))
    if "postgres" in data:
        return PostgresCheck(data["postgres"])
    raise ValueError(f"unknown readiness check {data!r}")


def all_pass(checks: list[Check]) -> bool:
    """True when every check passes (stops at the first failure)."""
    return all(check() for check in checks)
