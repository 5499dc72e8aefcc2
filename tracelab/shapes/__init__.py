"""Backend-neutral trace shapes: span model, converters, backend clients, matcher.

Typical use::

    from tracelab.shapes import JaegerClient, load_shape, assert_matches

    trace = JaegerClient("http://127.0.0.1:16686").wait_for_trace(trace_id, services=["auth"])
    assert_matches(load_shape("tests/shapes/login.yaml"), trace)
"""

from __future__ import annotations

from tracelab.shapes.backends import (
    BackendError,
    BackendUnavailable,
    JaegerClient,
    TempoClient,
    TraceNotFound,
    client_for,
)
from tracelab.shapes.from_otlp import trace_from_otlp
from tracelab.shapes.from_sdk import trace_from_sdk
from tracelab.shapes.matcher import MatchResult, Mismatch, assert_matches, match
from tracelab.shapes.model import Span, SpanEvent, SpanLink, Trace
from tracelab.shapes.shape import Shape, ShapeError, load_shape, load_shape_text, parse_shape
from tracelab.shapes.verify import verify_trace

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "JaegerClient",
    "MatchResult",
    "Mismatch",
    "Shape",
    "ShapeError",
    "Span",
    "SpanEvent",
    "SpanLink",
    "TempoClient",
    "Trace",
    "TraceNotFound",
    "assert_matches",
    "client_for",
    "load_shape",
    "load_shape_text",
    "match",
    "parse_shape",
    "trace_from_otlp",
    "trace_from_sdk",
    "verify_trace",
]
