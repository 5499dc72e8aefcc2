"""HTTP handlers of the auth service, with its business-step spans."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from services.auth import tokens
from services.auth.hashing import HashingPool, slots_for
from services.auth.settings import Settings
from services.common import faults, scenarios, telemetry
from services.common.errors import ApiError, Unauthorized
from services.common.flask_support import bearer_token, json_body
from services.common.validation import require_fields
from services.db.client import DbSyncClient

PASSWORD_VERIFY_SPAN = "auth.password_verify"
TOKEN_ISSUE_SPAN = "auth.token_issue"
TOKEN_VERIFY_SPAN = "auth.token_verify"
ENDUSER_ID = "enduser.id"

_tracer = telemetry.tracer(__name__)


def _bad_credentials() -> Unauthorized:
    # One message for an unknown email and a wrong password: emails cannot be probed.
    return Unauthorized("invalid email or password", "invalid_credentials")


def _mark_user(span: Span, user_id: int) -> None:
    span.set_attribute(ENDUSER_ID, str(user_id))


def _session_store_check() -> None:
    """Scenario flaky-auth: a share of verifications hit a failing session store."""
    flaky = faults.active(scenarios.FLAKY_AUTH)
    if flaky is not None and faults.roll(float(flaky["rate"])):
        raise faults.InjectedFault(
            f"session store timed out (scenario {scenarios.FLAKY_AUTH.name})"
        )


def register(app: Flask, settings: Settings, db: DbSyncClient) -> None:
    """Register ``/login`` and ``/verify`` on ``app``."""
    hashing = HashingPool(slots_for(settings.hash_memory_mib), settings.service.threads)

    @app.post("/login")
    def login() -> Response:
        """``POST /login {"email","password"}``: a token for valid credentials, else 401."""
        server_span = trace.get_current_span()
        fields = require_fields(
            json_body(settings.service.max_body_bytes), {"email": str, "password": str}
        )
        credentials = db.lookup_credentials(fields["email"])
        with _tracer.start_as_current_span(PASSWORD_VERIFY_SPAN) as span:
            if credentials is not None:
                _mark_user(span, credentials.id)
            password_hash = credentials.password_hash if credentials else None
            valid = hashing.verify(password_hash, fields["password"])
        if credentials is None or not valid:
            raise _bad_credentials()
        _mark_user(server_span, credentials.id)
        with _tracer.start_as_current_span(TOKEN_ISSUE_SPAN) as span:
            _mark_user(span, credentials.id)
            token = tokens.issue_token(credentials.id, settings.token_secret, settings.token_ttl_s)
        return jsonify({"token": token, "user_id": credentials.id})

    @app.post("/verify")
    def verify() -> Response:
        """``POST /verify`` with ``Authorization: Bearer <token>``: the token's user id."""
        token = bearer_token()
        if token is None:
            raise Unauthorized("missing bearer token", "missing_token")
        # A rejected token is a failure of this step (ERROR + exception event)
        # even though the server span's 401 is not an error.
        with _tracer.start_as_current_span(
            TOKEN_VERIFY_SPAN, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                _session_store_check()
            except faults.InjectedFault as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                message = "token verification is unavailable"
                raise ApiError(503, "auth_unavailable", message) from None
            try:
                user_id = tokens.verify_token(token, settings.token_secret)
            except Unauthorized as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, exc.code))
                raise
            _mark_user(span, user_id)
        _mark_user(trace.get_current_span(), user_id)
        return jsonify({"user_id": user_id})
