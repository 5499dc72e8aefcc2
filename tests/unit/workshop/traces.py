"""Hand-built traces of the workshop tests (tests/unit/shapes/builders.py)."""

from __future__ import annotations

from tests.unit.shapes.builders import T0, build, http_client, http_server, node, sql

T0_S = T0 / 1e9


def slow_query(scan_ms: float = 380.0):
    """A dashboard whose activity query scans: the SQL span is most of the trace."""
    return build(
        http_server(
            "gateway",
            "GET",
            "/api/dashboard",
            start=0,
            end=20 + scan_ms,
            children=[
                http_client(
                    "gateway",
                    "GET",
                    "http://user/users/1/activity",
                    start=5,
                    end=15 + scan_ms,
                    children=[
                        http_server(
                            "db",
                            "GET",
                            "/users/<user_id>/activity",
                            start=6,
                            end=14 + scan_ms,
                            children=[sql(8, 10 + scan_ms)],
                        )
                    ],
                )
            ],
        )
    )


def healthy():
    """The same dashboard with a fast query: no finding."""
    return slow_query(scan_ms=2.0)


def sequential(calls: int = 2, each_ms: float = 100.0):
    """A fan-out that awaits its calls one after another."""
    children = [
        http_client(
            "gateway", "GET", f"http://user/part/{i}", start=i * each_ms, end=(i + 1) * each_ms
        )
        for i in range(calls)
    ]
    return build(
        node(
            "gateway",
            "gateway.dashboard_fanout",
            start=0,
            end=calls * each_ms,
            children=children,
        )
    )


KINDS = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}


def _value(value):
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    return {"stringValue": str(value)}


def jaeger_answer(trace) -> dict:
    """``trace`` as Jaeger's ``/api/v3/traces/{id}`` answers it (OTLP JSON, hex ids)."""
    by_service: dict[str, list] = {}
    for span in trace:
        by_service.setdefault(span.service, []).append(
            {
                "traceId": span.trace_id,
                "spanId": span.span_id,
                "parentSpanId": span.parent_span_id or "",
                "name": span.name,
                "kind": KINDS[span.kind],
                "startTimeUnixNano": str(span.start_ns),
                "endTimeUnixNano": str(span.end_ns),
                "attributes": [{"key": k, "value": _value(v)} for k, v in span.attributes.items()],
                "status": {"code": 2 if span.status == "error" else 0},
            }
        )
    return {
        "result": {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": name}}]
                    },
                    "scopeSpans": [{"scope": {"name": "tests"}, "spans": spans}],
                }
                for name, spans in by_service.items()
            ]
        }
    }
