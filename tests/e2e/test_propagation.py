"""One trace id end to end, through every hop, with an intact parent chain."""

from __future__ import annotations

import pytest

from tests.e2e.journeys import trace_id_of

pytestmark = pytest.mark.e2e

ALL_SERVICES = {"frontend", "gateway", "auth", "user", "db"}


def _complete_trace(client, trace_id: str):
    return client.wait_for_trace(trace_id, services=tuple(ALL_SERVICES), timeout=30)


def test_dashboard_trace_crosses_every_service_with_one_root(http, frontend_url, login, backends):
    user = login(6)
    response = http.get(f"{frontend_url}/api/dashboard", headers=user.headers, timeout=10)
    assert response.status_code == 200, response.text
    trace_id = trace_id_of(response)
    for name, client in backends.items():
        trace = _complete_trace(client, trace_id)
        assert {span.trace_id for span in trace.spans} == {trace_id}, name
        assert {span.service for span in trace.spans} >= ALL_SERVICES, name
        ids = {span.span_id for span in trace.spans}
        roots = [span for span in trace.spans if span.parent_span_id not in ids]
        # A single root and every other span parented inside the trace: no hop
        # dropped the context and started a trace of its own.
        assert [(r.service, r.kind) for r in roots] == [("frontend", "server")], name
        for span in trace.spans:
            if span.kind == "server" and span.service != "frontend":
                parent = next(p for p in trace.spans if p.span_id == span.parent_span_id)
                assert parent.kind == "client", f"{name}: {span.name} not under a client span"


def test_untrusted_edge_starts_a_new_trace_and_links_the_caller(
    http, frontend_url, login, backends
):
    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    caller_span = "00f067aa0ba902b7"
    headers = {
        **login(7).headers,
        "traceparent": f"00-{caller_trace}-{caller_span}-01",
        "baggage": "synthetic_request=true",
    }
    response = http.get(f"{frontend_url}/api/dashboard", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    trace_id = trace_id_of(response)
    assert trace_id != caller_trace
    for name, client in backends.items():
        trace = _complete_trace(client, trace_id)
        root = next(s for s in trace.spans if s.service == "frontend" and s.kind == "server")
        assert (caller_trace, caller_span) in {
            (link.trace_id, link.span_id) for link in root.links
        }, name


@pytest.mark.parametrize(
    "traceparent",
    [
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
    ],
)
def test_malformed_trace_context_is_ignored_not_an_error(http, frontend_url, login, traceparent):
    headers = {**login(8).headers, "traceparent": traceparent, "baggage": "=;;,=,%%%" * 200}
    response = http.get(f"{frontend_url}/api/dashboard", headers=headers, timeout=10)
    # W3C Trace Context: an unparsable traceparent is ignored and a new trace starts.
    assert response.status_code == 200, response.text
    assert trace_id_of(response) != "0" * 32
