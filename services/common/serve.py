"""Run a service: gunicorn for Flask apps, aiohttp's runner for aiohttp apps.

Telemetry is initialised in the process that serves requests: in each
gunicorn worker after the fork (never with ``--preload``), so every worker
owns its exporter thread. gunicorn runs our gthread worker with bounded
admission (``services.common.gthread_admission``), and the workshop
scenarios' state is shared by all its workers (``services.common.faults``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from flask import Flask
from gunicorn.app.base import BaseApplication

from services.common import faults, gthread_admission, telemetry
from services.common.config import ServiceSettings
from services.common.logs import configure_logging


def _init_process(settings: ServiceSettings) -> None:
    configure_logging(settings.name, settings.log_level)
    telemetry.init(
        settings.name, service_version=settings.version, environment=settings.environment
    )


class _GunicornService(BaseApplication):
    def __init__(self, settings: ServiceSettings, factory: Callable[[], Flask]) -> None:
        self.settings = settings
        self.factory = factory
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        options: dict[str, Any] = {
            "bind": f"{s.bind_host}:{s.port}",
            "workers": s.workers,
            "threads": s.threads,
            "worker_class": gthread_admission.worker_class(s.max_queued),
            "timeout": 30,
            "graceful_timeout": 10,
            "keepalive": 5,
            "accesslog": None,
            "loglevel": s.log_level.lower(),
            "proc_name": f"tracelab-{s.name}",
            # gunicorn 27's control socket defaults to one path per user, which
            # every service on the machine would share; the lab has no use for it.
            "control_socket_disable": True,
            "worker_exit": lambda _server, _worker: telemetry.shutdown(),
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        # Runs in the worker, after fork: the exporter thread belongs to it.
        _init_process(self.settings)
        return self.factory()


def serve_flask(settings: ServiceSettings, factory: Callable[[], Flask]) -> None:
    """Serve a Flask app built by ``factory`` with gunicorn (gthread workers)."""
    configure_logging(settings.name, settings.log_level)
    faults.check_env()
    # Before the workers fork: they all inherit the one shared scenario state.
    faults.REGISTRY.share_between_processes()
    _GunicornService(settings, factory).run()


def serve_aiohttp(settings: ServiceSettings, factory: Callable[[], web.Application]) -> None:
    """Serve an aiohttp app built by ``factory`` after telemetry is initialised."""
    _init_process(settings)
    faults.check_env()
    app = factory()

    async def _flush(_: web.Application) -> None:
        telemetry.shutdown()

    app.on_cleanup.append(_flush)
    web.run_app(app, host=settings.bind_host, port=settings.port, access_log=None, print=None)
