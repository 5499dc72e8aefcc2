"""Small assertions shared by the frontend's tests."""

from __future__ import annotations

import re
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from werkzeug.test import TestResponse

TRACERESPONSE = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def traceresponse_ids(response: TestResponse) -> tuple[str, str]:
    """The (trace id, span id) of a response's ``traceresponse`` header."""
    header = response.headers.get("traceresponse", "")
    match = TRACERESPONSE.fullmatch(header)
    assert match, f"bad or missing traceresponse header: {header!r}"
    trace_id, span_id = match.group(1), match.group(2)
    assert trace_id != "0" * 32 and span_id != "0" * 16
    return trace_id, span_id


def hex_ids(span: ReadableSpan) -> tuple[str, str]:
    """A span's (trace id, span id) in W3C hex."""
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def server_span(spans: Any, name: str) -> ReadableSpan:
    """The single SERVER span called ``name``."""
    span = spans.one(name)
    assert span.kind is SpanKind.SERVER
    return span


def client_spans(spans: Any) -> list[ReadableSpan]:
    """Every CLIENT span (the requests instrumentation's calls to the gateway)."""
    return [span for span in spans.all() if span.kind is SpanKind.CLIENT]


def assert_json_error(response: TestResponse, status: int, code: str | None = None) -> dict:
    """Assert the common JSON error with ``status`` (and ``code``); return its ``error``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == status
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    trace_id, _ = traceresponse_ids(response)
    assert error["trace_id"] == trace_id
    return error
