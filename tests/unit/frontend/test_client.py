"""FrontendClient against the frontend served over real HTTP (werkzeug, in a thread)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from opentelemetry.trace import SpanKind
from werkzeug.serving import make_server

from services.common.errors import ApiError
from services.frontend.client import FrontendClient, LoginResult
from tests.unit.frontend.fake_gateway import EMAIL, PASSWORD, TOKEN, profile
from tests.unit.frontend.helpers import hex_ids, server_span


@pytest.fixture
def frontend(make_app) -> Iterator[FrontendClient]:
    """A FrontendClient of the frontend app served on a free port of 127.0.0.1."""
    server = make_server("127.0.0.1", 0, make_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    client = FrontendClient(f"http://127.0.0.1:{server.server_port}", timeout_s=5)
    yield client
    client.close()
    server.shutdown()
    thread.join(timeout=5)


def test_the_client_logs_in_and_reads_the_api(frontend):
    login = frontend.login(EMAIL, PASSWORD)
    authorization = f"Bearer {login.token}"

    assert login == LoginResult(token=TOKEN, user_id=1)
    assert frontend.get_user(2, authorization).email == profile(2)["email"]
    assert frontend.dashboard(authorization).profile.id == 1
    assert frontend.healthy()


def test_the_client_raises_the_frontends_json_errors(frontend):
    with pytest.raises(ApiError) as refused:
        frontend.dashboard("Bearer nope")
    with pytest.raises(ApiError) as unknown:
        frontend.get_user(404, f"Bearer {TOKEN}")

    assert (refused.value.status, refused.value.code) == (401, "invalid_token")
    assert (unknown.value.status, unknown.value.code) == (404, "user_not_found")


def test_over_real_http_the_untrusted_edge_links_instead_of_continuing(frontend, spans):
    frontend.login(EMAIL, PASSWORD)

    # The test process is the "internet caller": its root client span sent a traceparent.
    (caller,) = [s for s in spans.all() if s.kind is SpanKind.CLIENT and s.parent is None]
    server = server_span(spans, "POST /api/login")
    assert server.parent is None
    assert hex_ids(server)[0] != hex_ids(caller)[0]
    assert [link.context.span_id for link in server.links] == [caller.context.span_id]
