"""HTTP handlers of the frontend: the JSON API in front of the gateway, and the page."""

from __future__ import annotations

from dataclasses import asdict

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
)

from services.common.flask_support import json_body
from services.common.validation import parse_positive_int, require_fields
from services.frontend.links import TRACE_ID_MARKER, console_trace_link
from services.frontend.settings import Settings
from services.gateway.client import GatewayClient

GATEWAY_KEY = "tracelab.gateway_client"
SETTINGS_KEY = "tracelab.frontend_settings"

# A seed user of services.db.seed, offered on the page so the demo is one click.
DEMO_EMAIL = "user0001@tracelab.test"
DEMO_PASSWORD = "tracelab-pass-0001"

# The page loads only its own script and style; links to the trace UIs are navigations.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

api = Blueprint("api", __name__, url_prefix="/api")
page = Blueprint("page", __name__)


def _gateway() -> GatewayClient:
    return current_app.extensions[GATEWAY_KEY]


def _authorization() -> str | None:
    # Forwarded unchanged: auth, behind the gateway, decides what a bad header is.
    return request.headers.get("Authorization")


@api.post("/login")
def login() -> Response:
    """``POST /api/login``: validate the body, then log in through the gateway."""
    body = json_body(current_app.config["MAX_CONTENT_LENGTH"])
    fields = require_fields(body, {"email": str, "password": str})
    result = _gateway().login(fields["email"], fields["password"])
    return jsonify(token=result.token, user_id=result.user_id)


@api.get("/users/<user_id>")
def get_user(user_id: str) -> Response:
    """``GET /api/users/<id>``: a profile (400 for a non-integer id, JSON not HTML)."""
    profile = _gateway().get_user(parse_positive_int(user_id, "user id"), _authorization())
    return jsonify(asdict(profile))


@api.get("/dashboard")
def dashboard() -> Response:
    """``GET /api/dashboard``: the caller's profile and activity."""
    result = _gateway().dashboard(_authorization())
    return jsonify(
        profile=asdict(result.profile), activity=[asdict(item) for item in result.activity]
    )


@api.after_request
def _no_store(response: Response) -> Response:
    # Answers carry tokens and personal data: never cache them anywhere.
    response.headers["Cache-Control"] = "no-store"
    return response


@page.get("/")
def index() -> Response:
    """The demo page: log in, call the API, follow each answer's trace to the console."""
    settings: Settings = current_app.extensions[SETTINGS_KEY]
    html = render_template(
        "index.html",
        demo_email=DEMO_EMAIL,
        demo_password=DEMO_PASSWORD,
        console_link=console_trace_link(settings.console_url),
        trace_id_marker=TRACE_ID_MARKER,
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


@page.get("/lab")
def lab() -> Response:
    """The lab console moved to its own process: send people there."""
    settings: Settings = current_app.extensions[SETTINGS_KEY]
    return redirect(f"{settings.console_url}/#/lab", code=302)


def add_routes(app: Flask, settings: Settings, gateway: GatewayClient) -> None:
    """Register the API and the page on ``app``, with the client their handlers use."""
    app.extensions[GATEWAY_KEY] = gateway
    app.extensions[SETTINGS_KEY] = settings
    app.register_blueprint(api)
    app.register_blueprint(page)
