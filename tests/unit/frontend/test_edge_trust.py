"""Edge trust (DESIGN.md section 5): an internet caller's trace context is linked, not continued."""

from __future__ import annotations

import pytest
from opentelemetry.trace import TraceFlags

from services.frontend.edge import caller_span_context
from tests.unit.frontend.fake_gateway import TOKEN
from tests.unit.frontend.helpers import client_spans, hex_ids, server_span, traceresponse_ids

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
CALLER = {
    "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
    "tracestate": "vendor=opaque",
    "baggage": "synthetic_request=true,tenant=acme",
}


def _sent_traceparent_trace_id(gateway) -> str:
    (received,) = gateway.calls("/api/dashboard")
    return received.headers["traceparent"].split("-")[1]


def test_untrusted_caller_gets_a_new_trace_linked_to_its_context(client, gateway, spans):
    response = client.get("/api/dashboard", headers={**AUTH, **CALLER})

    assert response.status_code == 200
    server = server_span(spans, "GET /api/dashboard")
    trace_id, _ = hex_ids(server)
    assert trace_id != CALLER_TRACE
    assert server.parent is None
    assert traceresponse_ids(response) == hex_ids(server)
    (link,) = server.links
    assert (f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") == (
        CALLER_TRACE,
        CALLER_SPAN,
    )
    assert link.context.is_remote
    assert link.context.trace_flags == TraceFlags.SAMPLED
    # Downstream sees only the frontend's trace, never the caller's baggage or tracestate.
    (outbound,) = client_spans(spans)
    assert outbound.context.trace_id == server.context.trace_id
    (received,) = gateway.calls("/api/dashboard")
    assert _sent_traceparent_trace_id(gateway) == trace_id
    assert "baggage" not in received.headers
    assert "tracestate" not in received.headers


def test_untrusted_mode_without_a_traceparent_has_no_link(client, spans):
    response = client.get("/api/dashboard", headers={**AUTH, "baggage": "synthetic_request=true"})

    assert response.status_code == 200
    assert server_span(spans, "GET /api/dashboard").links == ()


def test_trusted_mode_continues_the_callers_trace_and_baggage(make_app, gateway, spans):
    client = make_app(trust=True).test_client()

    response = client.get("/api/dashboard", headers={**AUTH, **CALLER})

    assert response.status_code == 200
    server = server_span(spans, "GET /api/dashboard")
    assert hex_ids(server)[0] == CALLER_TRACE
    assert f"{server.parent.span_id:016x}" == CALLER_SPAN
    assert server.links == ()
    assert traceresponse_ids(response)[0] == CALLER_TRACE
    (received,) = gateway.calls("/api/dashboard")
    assert _sent_traceparent_trace_id(gateway) == CALLER_TRACE
    assert "synthetic_request=true" in received.headers["baggage"]


MALFORMED_TRACEPARENTS = [
    "garbage",
    "",
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    "00-" + "a" * 5000,
    "00-4bf92f3577b34da6a3ce929d0e0e47é6-00f067aa0ba902b7-01",
]
MALFORMED_BAGGAGE = "=;;,=,%%%" * 200


@pytest.mark.parametrize("trust", [False, True], ids=["untrusted", "trusted"])
@pytest.mark.parametrize("traceparent", MALFORMED_TRACEPARENTS)
def test_malformed_trace_context_is_ignored_and_a_new_trace_starts(
    make_app, gateway, spans, trust, traceparent
):
    client = make_app(trust=trust).test_client()
    headers = {
        **AUTH,
        "traceparent": traceparent,
        "tracestate": "=,,=\x7f" * 50,
        "baggage": MALFORMED_BAGGAGE,
    }

    response = client.get("/api/dashboard", headers=headers)

    assert response.status_code == 200, response.get_data(as_text=True)
    server = server_span(spans, "GET /api/dashboard")
    assert server.parent is None
    assert server.links == ()
    trace_id, _ = traceresponse_ids(response)
    assert trace_id == hex_ids(server)[0] != CALLER_TRACE
    assert _sent_traceparent_trace_id(gateway) == trace_id


@pytest.mark.parametrize("trust", [False, True], ids=["untrusted", "trusted"])
def test_oversized_baggage_on_a_client_error_is_still_a_4xx(make_app, spans, trust):
    client = make_app(trust=trust).test_client()
    headers = {
        "traceparent": "garbage",
        "baggage": "k=" + "v" * 20_000,
        "Content-Type": "application/json",
    }

    response = client.post("/api/login", data=b"{", headers=headers)

    assert response.status_code == 400
    assert traceresponse_ids(response)[0] == hex_ids(server_span(spans, "POST /api/login"))[0]


def test_caller_span_context_parses_only_valid_w3c_context():
    valid = caller_span_context(
        {"HTTP_TRACEPARENT": CALLER["traceparent"], "HTTP_TRACESTATE": "a=b"}
    )
    assert valid is not None
    assert f"{valid.trace_id:032x}" == CALLER_TRACE
    assert valid.trace_state.get("a") == "b"
    assert caller_span_context({}) is None
    for traceparent in MALFORMED_TRACEPARENTS:
        assert caller_span_context({"HTTP_TRACEPARENT": traceparent}) is None, traceparent
