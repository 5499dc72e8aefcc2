"""Start one service as its own process, as ``make up`` does (``python -m services.<name>``).

Shared by the integration tier (services against fakes and an OTLP receiver)
and the resilience tier (a fresh service beside the running stack).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tracelab.stack.ports import find_free_port

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "test-admin-token"
# auth refuses to start without a signing secret; each test run makes its own.
AUTH_TOKEN_SECRET = secrets.token_urlsafe(32)


@dataclass
class Service:
    """A running service process."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM, as a process manager stops it; its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """Kill it if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class ServiceFailedToStart(RuntimeError):
    """The service exited or never answered ``/healthz``."""


def _wait_healthy(service: Service, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and service.process.poll() is None:
        try:
            if requests.get(f"{service.url}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise ServiceFailedToStart(f"{service.name} did not start:\n{service.log.read_text()[-3000:]}")


@contextmanager
def running_service(
    name: str, log_dir: Path, env: Mapping[str, str] | None = None, timeout: float = 30.0
) -> Iterator[Service]:
    """``python -m services.<name>`` on a free port of 127.0.0.1 until the block ends.

    Tracing is off unless ``env`` turns it on; the admin token is ``ADMIN_TOKEN`` and
    auth signs with ``AUTH_TOKEN_SECRET``.
    """
    port = find_free_port()
    environ = {
        **os.environ,
        "PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
        "TRACELAB_ADMIN_TOKEN": ADMIN_TOKEN,
        "AUTH_TOKEN_SECRET": AUTH_TOKEN_SECRET,
        "OTEL_SDK_DISABLED": "true",
        **(env or {}),
    }
    log = log_dir / f"{name}-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    service = Service(name, f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_healthy(service, timeout)
        yield service
    finally:
        service.stop()
