"""The lab console: ``/lab`` for the workshop leader, on localhost.

Fire each journey (the page calls the public ``/api/*`` like any browser),
switch scenarios, and see the resulting trace: its id, links to Jaeger and
Grafana/Tempo, a compact waterfall drawn from the trace fetched back from
Jaeger, and the trace's log lines.

Trust model: ``/lab`` and ``/lab/api/*`` answer loopback callers only
(``TRACELAB_LAB_ALLOW_REMOTE=true`` lifts that, e.g. behind an
authenticating proxy); the admin token never leaves the server; the
console's own calls are not traced.
"""

from __future__ import annotations

import ipaddress
import re

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from services.common.errors import ApiError, BadRequest
from services.frontend.lab_settings import LabSettings
from services.frontend.lab_sources import (
    JaegerSource,
    LogSource,
    ScenarioSwitchboard,
    looks_complete,
)
from services.frontend.routes import render_page

LAB_KEY = "tracelab.lab"
UNTRACED_PATHS = (r"/lab(/|$|\?)",)
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")

lab = Blueprint("lab", __name__, url_prefix="/lab")


class Lab:
    """The console's server-side parts."""

    def __init__(self, settings: LabSettings) -> None:
        self.settings = settings
        self.switchboard = ScenarioSwitchboard(settings.services)
        self.jaeger = JaegerSource(settings.jaeger_query_url)
        self.logs = LogSource(settings.log_dir)


def _lab() -> Lab:
    return current_app.extensions[LAB_KEY]


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


@lab.before_request
def _local_only() -> None:
    if not _lab().settings.allow_remote and not _is_loopback(request.remote_addr):
        raise ApiError(403, "lab_local_only", "the lab console answers on localhost only")


@lab.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _trace_id(raw: str) -> str:
    trace_id = raw.strip().lower()
    if not _TRACE_ID.match(trace_id):
        raise BadRequest("trace id must be 32 hex characters", "invalid_trace_id")
    return trace_id


@lab.get("")
@lab.get("/")
def page() -> Response:
    """The console page."""
    return render_page("lab.html")


@lab.get("/api/scenarios")
def scenarios() -> Response:
    """Every scenario and whether it is on."""
    return jsonify(scenarios=_lab().switchboard.listing())


@lab.route("/api/scenarios/<name>", methods=["PUT", "DELETE"])
def switch(name: str) -> Response:
    """Switch a scenario on (PUT) or off (DELETE) in the services that own it."""
    return jsonify(_lab().switchboard.switch(name, request.method == "PUT"))


@lab.get("/api/traces/<trace_id>")
def trace(trace_id: str) -> Response:
    """The trace as a flat span list for the waterfall (``spans: []`` until it arrives).

    ``complete`` tells whether the trace looks whole yet (see ``looks_complete``).
    """
    spans = _lab().jaeger.spans(_trace_id(trace_id))
    return jsonify(trace_id=trace_id, spans=spans, complete=looks_complete(spans))


@lab.get("/api/logs/<trace_id>")
def logs(trace_id: str) -> Response:
    """The services' log lines that carry this trace id."""
    return jsonify(trace_id=trace_id, lines=_lab().logs.lines(_trace_id(trace_id)))


def add_lab(app: Flask, settings: LabSettings) -> None:
    """Mount the console on ``app``."""
    app.extensions[LAB_KEY] = Lab(settings)
    app.register_blueprint(lab)
