"""Serve the console with gunicorn: one process, a few threads, no telemetry.

The console is lab tooling, not a demo service: it never initialises
OpenTelemetry, so nothing it does (searches, admin calls, journeys it
fires) produces spans of its own. Its state (the journey token cache) is
per process, hence one worker.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from services.common.logs import configure_logging
from tracelab.console.api import CONSOLE_KEY
from tracelab.console.app import create_app
from tracelab.console.settings import ConsoleSettings


class _ConsoleServer(BaseApplication):
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        options: dict[str, Any] = {
            "bind": f"{s.bind_host}:{s.port}",
            "workers": 1,
            "threads": s.threads,
            "worker_class": "gthread",
            "timeout": 60,
            "graceful_timeout": 5,
            "keepalive": 5,
            "accesslog": None,
            "proc_name": "tracelab-console",
            "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        app = create_app(self.settings)
        # The service map's rates need the span metrics' history: start keeping it.
        app.extensions[CONSOLE_KEY].metrics.start()
        return app


def serve(settings: ConsoleSettings) -> None:
    """Serve until stopped."""
    configure_logging("console")
    logging.getLogger(__name__).info(
        "tracelab console on http://%s:%d (backends: %s)",
        settings.bind_host,
        settings.port,
        ", ".join(f"{k} {v}" for k, v in settings.backends.items()),
    )
    _ConsoleServer(settings).run()


def main() -> None:
    """Read the settings from the environment and serve."""
    serve(ConsoleSettings.from_env())
