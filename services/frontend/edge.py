"""Edge trust: continue an internet caller's trace, or only link to it.

DESIGN.md section 5. By default the frontend does not let a caller choose its
trace id, sampling decision or baggage: the caller's trace headers are taken
out of the request before the Flask instrumentation reads them, so the server
span starts a new trace, and a valid caller context becomes a span link.
Malformed headers are ignored as W3C Trace Context requires: no link, a new
trace, a normal answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, request
from opentelemetry import trace
from opentelemetry.trace import SpanContext
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CALLER_CONTEXT_KEY = "tracelab.caller_span_context"

# WSGI names of the headers an untrusted caller may not make us continue.
_TRACE_HEADERS = {
    "traceparent": "HTTP_TRACEPARENT",
    "tracestate": "HTTP_TRACESTATE",
    "baggage": "HTTP_BAGGAGE",
}

_TRACECONTEXT = TraceContextTextMapPropagator()


def caller_span_context(environ: WSGIEnvironment) -> SpanContext | None:
    """The caller's W3C trace context in ``environ``; None when absent or malformed."""
    carrier = {
        name: environ[key]
        for name, key in _TRACE_HEADERS.items()
        if name != "baggage" and key in environ
    }
    if "traceparent" not in carrier:
        return None
    context = trace.get_current_span(_TRACECONTEXT.extract(carrier)).get_span_context()
    return context if context.is_valid else None


class UntrustedTraceContext:
    """WSGI middleware that hides the caller's trace headers from the instrumentation.

    It must wrap the *instrumented* ``wsgi_app`` so that it runs first; the
    caller's parsed context stays in the environ under ``CALLER_CONTEXT_KEY``.
    """

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[Any]:
        """Strip ``traceparent``/``tracestate``/``baggage``, keep the parsed caller context."""
        caller = caller_span_context(environ)
        for key in _TRACE_HEADERS.values():
            environ.pop(key, None)
        if caller is not None:
            environ[CALLER_CONTEXT_KEY] = caller
        return self.app(environ, start_response)


def link_caller() -> None:
    """``before_request`` hook: link the server span to the caller's context, if one came."""
    caller = request.environ.get(CALLER_CONTEXT_KEY)
    if caller is not None:
        trace.get_current_span().add_link(caller)


def install_edge_trust(app: Flask, trust_traceparent: bool) -> None:
    """Continue callers' traces when ``trust_traceparent``, else start new ones and link.

    Call after the app is instrumented (``create_flask_app``): the middleware
    then wraps the instrumentation, and ``link_caller`` runs after the
    instrumentation's ``before_request`` has made the server span current.
    """
    if trust_traceparent:
        return
    app.wsgi_app = UntrustedTraceContext(app.wsgi_app)  # type: ignore[method-assign]
    app.before_request(link_caller)
