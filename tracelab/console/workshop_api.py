"""The console's exercise API: the learners' submission form and the leader's view.

``GET /api/exercise`` is the running (or last) exercise or game day: every
learner's attempts, correctness and time to correct diagnosis, the cause
list to choose from, and, once it is stopped, the answer. ``POST
/api/exercise/submissions`` grades one diagnosis (:mod:`tracelab.workshop.session`)
against the same record the CLI uses. Bad input answers 400/422 JSON, no
exercise running 409, never a 500.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from services.common.errors import ApiError
from tracelab.console.api import _backend_failure, _body, _console
from tracelab.shapes.backends import BackendError
from tracelab.workshop.catalogue import causes
from tracelab.workshop.grading import InvalidDiagnosis
from tracelab.workshop.session import status, submit
from tracelab.workshop.store import NoSession, Store

workshop_api = Blueprint("console_workshop", __name__, url_prefix="/api/exercise")


def _store() -> Store:
    directory = _console().settings.workshop_dir
    if directory is None:
        raise ApiError(
            503,
            "no_workshop_record",
            "this console has no exercise record (TRACELAB_WORKSHOP_DIR): start the stack with "
            f"`{_console().settings.start_hint}`",
        )
    return Store(directory)


@workshop_api.get("")
def current() -> Response:
    """The running or last session, the causes to choose from."""
    try:
        doc = status(_store())
    except NoSession:
        doc = {"session": None, "learners": [], "submissions": []}
    if doc["session"] and doc["session"]["running"]:
        # Learners read this too: nobody's right answer to copy while it runs.
        for sub in doc["submissions"]:
            sub.pop("answer", None)
    return jsonify(**doc, causes=causes())


@workshop_api.post("/submissions")
def submission() -> Response:
    """Grade one diagnosis: ``{learner, service, operation, cause, trace_id}``."""
    body = _body()
    console = _console()
    backend = body.get("backend") if isinstance(body.get("backend"), str) else None
    client = console.client(backend)
    try:
        result = submit(_store(), body, client, client.name)
    except InvalidDiagnosis as exc:
        raise ApiError(422, "validation_failed", str(exc)) from None
    except NoSession as exc:
        raise ApiError(409, "no_exercise", str(exc)) from None
    except BackendError as exc:
        raise _backend_failure(client, exc) from None
    return jsonify(result)
