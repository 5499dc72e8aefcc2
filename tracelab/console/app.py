"""Build the console's Flask application: the page, its JSON API, health, and its guards."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from services.common.errors import ApiError, error_body, status_code_name
from tracelab.analysis.service_map import MetricsHistory
from tracelab.console.analysis_api import analysis_api
from tracelab.console.api import CONSOLE_KEY, api
from tracelab.console.assets import up_to_date as assets_ready
from tracelab.console.guard import HostGuard
from tracelab.console.lab import Lab
from tracelab.console.logs import LogSource
from tracelab.console.settings import ConsoleSettings
from tracelab.console.workshop_api import workshop_api
from tracelab.shapes.backends import BackendClient, client_for

log = logging.getLogger(__name__)

# The page loads only its own scripts and styles; nothing from any other origin.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

ClientFactory = Callable[[str, str], BackendClient]


class Console:
    """What the console's handlers use: backend clients, logs, journeys and scenarios."""

    def __init__(self, settings: ConsoleSettings, client_factory: ClientFactory | None = None):
        self.settings = settings
        self._factory = client_factory or (lambda name, url: client_for(name, url, timeout=10.0))
        # One client per thread and backend: a requests.Session is not meant to be shared.
        self._local = threading.local()
        self.logs = LogSource(settings.log_dir)
        self.lab = Lab(settings.services, settings.start_hint)
        self.metrics = MetricsHistory(settings.span_metrics_url)

    @property
    def backends(self) -> Mapping[str, str]:
        """Backend name -> query URL, in the order the page offers them."""
        return self.settings.backends

    def client(self, name: str | None) -> BackendClient:
        """The client of backend ``name`` (default: the first); 400 for an unknown name."""
        name = name or next(iter(self.backends))
        if name not in self.backends:
            raise ApiError(
                400,
                "unknown_backend",
                f"no backend {name!r} in this stack: choose one of {', '.join(self.backends)}",
            )
        clients = getattr(self._local, "clients", None)
        if clients is None:
            clients = self._local.clients = {}
        if name not in clients:
            clients[name] = self._factory(name, self.backends[name])
        return clients[name]


def _json_error(status: int, body: dict) -> Response:
    response = jsonify(body)
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = "5"
    return response


def _register_errors(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return _json_error(exc.status, exc.body())

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = exc.description or exc.name
        return _json_error(status, error_body(status, status_code_name(status), message))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return _json_error(500, error_body(500, "internal_error", "internal error of the console"))


def _security_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def create_app(settings: ConsoleSettings, *, client_factory: ClientFactory | None = None) -> Flask:
    """The console app; ``client_factory(name, url)`` makes backend clients (tests swap it)."""
    app = Flask("tracelab.console")
    app.json.sort_keys = False
    console = Console(settings, client_factory)
    app.extensions[CONSOLE_KEY] = console
    guard = HostGuard(settings.port, settings.allowed_hosts)
    app.before_request(lambda: guard.check(request))
    app.after_request(_security_headers)
    _register_errors(app)
    app.register_blueprint(api)
    app.register_blueprint(analysis_api)
    app.register_blueprint(workshop_api)

    @app.get("/")
    def page() -> Response:
        """The single page: search, trace view and lab, switched by the URL's fragment."""
        html = render_template(
            "console.html", backends=list(settings.backends), assets_ready=assets_ready()
        )
        return Response(html, mimetype="text/html")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> Response:
        if not assets_ready():
            return _json_error(
                503,
                error_body(503, "assets_missing", "run `make console-assets` (npm ci) first"),
            )
        return jsonify(status="ready")

    return app
