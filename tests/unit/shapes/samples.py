"""Recorded-style backend answers for one small trace, in every format we read.

The trace: frontend's server span (with a link to the caller's context) ->
frontend's client span (401, an error) -> auth's ``auth.token_verify``
(error, with an exception event). The same three spans are written as
Jaeger ``/api/v3`` OTLP JSON (hex ids, numeric enums) and as Tempo
``/api/v2`` OTLP JSON (base64 ids, enum names).
"""

from __future__ import annotations

import copy
from typing import Any

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
ROOT_ID = "00f067aa0ba902b7"
CLIENT_ID = "1111111111111111"
VERIFY_ID = "2222222222222222"
CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
START_US = 1_700_000_000_000_000
START_NS = START_US * 1000


def _kv(key: str, **value: Any) -> dict[str, Any]:
    return {"key": key, "value": value}


def _resource(service: str) -> dict[str, Any]:
    return {
        "attributes": [
            _kv("service.name", stringValue=service),
            _kv("service.version", stringValue="0.1.0"),
        ]
    }


def otlp_hex() -> dict[str, Any]:
    """``GET /api/v3/traces/{id}`` of Jaeger: OTLP JSON with hex ids and numeric enums."""
    ns = START_NS
    return {
        "result": {
            "resourceSpans": [
                {
                    "resource": _resource("frontend"),
                    "scopeSpans": [
                        {
                            "scope": {
                                "name": "opentelemetry.instrumentation.flask",
                                "version": "0.66b1",
                            },
                            "spans": [
                                {
                                    "traceId": TRACE_ID,
                                    "spanId": ROOT_ID,
                                    "parentSpanId": "",
                                    "name": "GET /api/dashboard",
                                    "kind": 2,
                                    "startTimeUnixNano": str(ns),
                                    "endTimeUnixNano": str(ns + 25_000_000),
                                    "attributes": [
                                        _kv("http.request.method", stringValue="GET"),
                                        _kv("http.route", stringValue="/api/dashboard"),
                                        _kv("http.response.status_code", intValue="401"),
                                    ],
                                    "links": [{"traceId": CALLER_TRACE, "spanId": CALLER_SPAN}],
                                    "status": {},
                                }
                            ],
                        },
                        {
                            "scope": {"name": "opentelemetry.instrumentation.requests"},
                            "spans": [
                                {
                                    "traceId": TRACE_ID,
                                    "spanId": CLIENT_ID,
                                    "parentSpanId": ROOT_ID,
                                    "name": "GET",
                                    "kind": 3,
                                    "startTimeUnixNano": str(ns + 1_000_000),
                                    "endTimeUnixNano": str(ns + 24_000_000),
                                    "attributes": [
                                        _kv("http.request.method", stringValue="GET"),
                                        _kv(
                                            "url.full",
                                            stringValue="http://127.0.0.1:8081/api/dashboard",
                                        ),
                                        _kv("http.response.status_code", intValue="401"),
                                    ],
                                    "status": {"code": 2},
                                }
                            ],
                        },
                    ],
                },
                {
                    "resource": _resource("auth"),
                    "scopeSpans": [
                        {
                            "scope": {"name": "services.auth"},
                            "spans": [
                                {
                                    "traceId": TRACE_ID,
                                    "spanId": VERIFY_ID,
                                    "parentSpanId": CLIENT_ID,
                                    "name": "auth.token_verify",
                                    "kind": 1,
                                    "startTimeUnixNano": str(ns + 2_000_000),
                                    "endTimeUnixNano": str(ns + 3_500_000),
                                    "attributes": [
                                        _kv("token.expired", boolValue=False),
                                        _kv("auth.clock_skew_s", doubleValue=0.5),
                                    ],
                                    "events": [
                                        {
                                            "timeUnixNano": str(ns + 3_000_000),
                                            "name": "exception",
                                            "attributes": [
                                                _kv(
                                                    "exception.type",
                                                    stringValue="InvalidTokenError",
                                                ),
                                                _kv("exception.escaped", boolValue=False),
                                            ],
                                        }
                                    ],
                                    "status": {
                                        "code": 2,
                                        "message": "InvalidTokenError: bad token",
                                    },
                                }
                            ],
                        }
                    ],
                },
            ]
        }
    }


_B64 = {
    TRACE_ID: "S/kvNXezTaajzpKdDg5HNg==",
    ROOT_ID: "APBnqgupArc=",
    CLIENT_ID: "ERERERERERE=",
    VERIFY_ID: "IiIiIiIiIiI=",
    CALLER_TRACE: "CvdlGRbNQ92ESOshHIAxnA==",
    CALLER_SPAN: "t61rcWkgMzE=",
    "": "",
}
_KIND_NAMES = {1: "SPAN_KIND_INTERNAL", 2: "SPAN_KIND_SERVER", 3: "SPAN_KIND_CLIENT"}


def tempo_v2() -> dict[str, Any]:
    """``GET /api/v2/traces/{id}`` of Tempo: OTLP JSON with base64 ids and enum names."""
    document = copy.deepcopy(otlp_hex()["result"])
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    span[key] = _B64[span[key]]
                if not span["parentSpanId"]:
                    del span["parentSpanId"]
                span["kind"] = _KIND_NAMES[span["kind"]]
                if span["status"].get("code") == 2:
                    span["status"]["code"] = "STATUS_CODE_ERROR"
                for link in span.get("links", ()):
                    link["traceId"], link["spanId"] = _B64[link["traceId"]], _B64[link["spanId"]]
    return {"trace": document, "status": "COMPLETE"}


def tempo_search() -> dict[str, Any]:
    """``GET /api/search?q=...`` of Tempo, as its API documentation gives it.

    The first hit carries ``serviceStats`` (Tempo 2.2+), the second does not
    and has a trace id printed without its leading zeros, a span set in the
    older singular ``spanSet`` form and no ``durationMs`` (under 1 ms).
    """
    return {
        "traces": [
            {
                "traceID": TRACE_ID,
                "rootServiceName": "frontend",
                "rootTraceName": "GET /api/dashboard",
                "startTimeUnixNano": str(START_NS),
                "durationMs": 25,
                "spanSets": [
                    {
                        "spans": [
                            {
                                "spanID": VERIFY_ID,
                                "startTimeUnixNano": str(START_NS + 2_000_000),
                                "durationNanos": "18000000",
                                "attributes": [_kv("status", stringValue="error")],
                            }
                        ],
                        "matched": 1,
                    }
                ],
                "serviceStats": {
                    "frontend": {"spanCount": 2, "errorCount": 1},
                    "auth": {"spanCount": 1, "errorCount": 1},
                },
            },
            {
                "traceID": "7a1d2dd4deaf177e0acf55b3c49032",
                "rootServiceName": "frontend",
                "rootTraceName": "GET /api/users/{user_id}",
                "startTimeUnixNano": str(START_NS - 60_000_000_000),
                "spanSet": {"spans": [], "matched": 0},
            },
        ],
        "metrics": {"inspectedBytes": "377046", "totalBlocks": 3},
    }
