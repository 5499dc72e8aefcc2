"""Run a second console process beside the stack's, for the states a shared stack cannot show.

(A backend that is down, or Tempo, which cannot run here: its path is served
from Tempo's documented answer formats.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import requests

from tracelab.stack.ports import find_free_port


@contextmanager
def console_process(env: Mapping[str, str]) -> Iterator[str]:
    """A ``python -m tracelab.console`` on a free port with ``env``; yields its URL."""
    port = find_free_port()
    full = {
        **os.environ,
        **env,
        "TRACELAB_CONSOLE_PORT": str(port),
        "TRACELAB_CONSOLE_HOST": "127.0.0.1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracelab.console"],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, "the console process exited during start-up"
            assert time.monotonic() < deadline, "the console did not get ready in 30 s"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
