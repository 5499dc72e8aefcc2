"""HTTP handlers of the db service."""

from __future__ import annotations

import time

from flask import Flask, Response, jsonify, request

from services.common import faults, scenarios
from services.common.errors import BadRequest, NotFound
from services.common.flask_support import json_body
from services.common.validation import parse_positive_int, require_fields
from services.db.store import UserStore

DEFAULT_ACTIVITY_LIMIT = 10
MAX_ACTIVITY_LIMIT = 100


def _user_id(raw: str) -> int:
    return parse_positive_int(raw, "user id")


def _activity_limit() -> int:
    raw = request.args.get("limit")
    if raw is None:
        return DEFAULT_ACTIVITY_LIMIT
    limit = parse_positive_int(raw, "limit")
    if limit > MAX_ACTIVITY_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_ACTIVITY_LIMIT}", "invalid_parameter")
    return limit


def _no_such_user() -> NotFound:
    return NotFound("no such user", "user_not_found")


def register(app: Flask, store: UserStore, max_body_bytes: int) -> None:
    """Register the db service's endpoints on ``app``."""

    @app.post("/users/lookup")
    def lookup_user() -> Response:
        """``POST /users/lookup {"email"}``: the user's id, email and password hash."""
        fields = require_fields(json_body(max_body_bytes), {"email": str})
        # Emails are stored lower-case (the schema checks it).
        credentials = store.find_credentials(fields["email"].strip().lower())
        if credentials is None:
            raise _no_such_user()
        return jsonify(
            {
                "id": credentials.id,
                "email": credentials.email,
                "password_hash": credentials.password_hash,
            }
        )

    @app.get("/users/<user_id>")
    def get_user(user_id: str) -> Response:
        """``GET /users/<id>``: the user's public profile."""
        profile = store.find_profile(_user_id(user_id))
        if profile is None:
            raise _no_such_user()
        return jsonify(profile)

    @app.get("/users/<user_id>/activity")
    def get_activity(user_id: str) -> Response:
        """``GET /users/<id>/activity?limit=N``: the newest entries first."""
        uid, limit = _user_id(user_id), _activity_limit()
        storm = faults.active(scenarios.RETRY_STORM)
        if storm is not None:
            # The slow dependency of scenario retry-storm: every call is slow,
            # whether or not the caller is still waiting for it.
            time.sleep(storm["delay_ms"] / 1000)
        items = store.list_activity(uid, limit)
        if items is None:
            raise _no_such_user()
        return jsonify({"items": items})

    @app.get("/users/<user_id>/activity/ids")
    def get_activity_ids(user_id: str) -> Response:
        """``GET /users/<id>/activity/ids?limit=N``: the ids of the newest entries."""
        ids = store.list_activity_ids(_user_id(user_id), _activity_limit())
        if ids is None:
            raise _no_such_user()
        return jsonify({"ids": ids})

    @app.get("/activity/<activity_id>")
    def get_activity_entry(activity_id: str) -> Response:
        """``GET /activity/<id>``: one activity entry."""
        entry = store.find_activity(parse_positive_int(activity_id, "activity id"))
        if entry is None:
            raise NotFound("no such activity entry", "activity_not_found")
        return jsonify(entry)
