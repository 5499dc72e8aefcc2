import json
import logging

from services.common import telemetry
from services.common.errors import NotFound, error_body, status_code_name
from services.common.logs import JsonFormatter


def test_error_body_carries_the_trace_id_inside_a_span(spans):
    with telemetry.tracer("test").start_as_current_span("work") as span:
        body = NotFound("no such user").body()
    assert body["error"] == {
        "status": 404,
        "code": "not_found",
        "message": "no such user",
        "trace_id": format(span.get_span_context().trace_id, "032x"),
    }


def test_error_body_outside_a_span_has_no_trace_id():
    assert "trace_id" not in error_body(400, "bad_request", "nope")["error"]


def test_status_code_names():
    assert status_code_name(404) == "not_found"
    assert status_code_name(413) == "request_entity_too_large"
    assert status_code_name(599) == "error"


def _format(record_message: str, **extra) -> dict:
    record = logging.makeLogRecord({"msg": record_message, "levelname": "INFO", **extra})
    return json.loads(JsonFormatter("auth").format(record))


def test_log_lines_carry_trace_and_span_ids(spans):
    with telemetry.tracer("test").start_as_current_span("work") as span:
        entry = _format("hello", user_id=7)
    context = span.get_span_context()
    assert entry["trace_id"] == format(context.trace_id, "032x")
    assert entry["span_id"] == format(context.span_id, "016x")
    assert (entry["service"], entry["message"], entry["user_id"]) == ("auth", "hello", 7)


def test_log_lines_outside_spans_have_no_ids():
    entry = _format("idle")
    assert "trace_id" not in entry
    assert entry["level"] == "INFO"
