"""A request the frontend refuses without reading its body does not poison the connection.

gunicorn drains at most 64 KiB of a body the app did not read, then closes
the connection. Answering such a request must say ``Connection: close``, or a
client's pool reuses a connection that is about to close (``RemoteDisconnected``
on the next request, as seen once in tests/e2e/test_bad_input.py).
"""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.integration

OVERSIZED = b'{"email": "' + b"a" * 200_000 + b'"}'


def _connection(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def test_an_unread_oversized_body_closes_the_connection_and_says_so(serve):
    frontend = serve("frontend")
    connection = _connection(frontend.url)
    connection.request(
        "POST", "/api/login", body=OVERSIZED, headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    response.read()
    assert response.status == 413
    time.sleep(0.2)  # the server has closed by now, if it is going to
    if response.getheader("Connection", "").lower() != "close":
        # It promised keep-alive: then the connection must still serve.
        connection.request("GET", "/healthz")
        assert connection.getresponse().status == 200
    assert response.getheader("Connection", "").lower() == "close"
    connection.close()


def test_a_small_refused_body_keeps_the_connection(serve):
    """Only what gunicorn cannot drain closes: a 4xx with a small body keeps alive."""
    frontend = serve("frontend")
    connection = _connection(frontend.url)
    connection.request(
        "POST", "/api/login", body=b"{", headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    response.read()
    assert response.status == 400
    assert response.getheader("Connection", "").lower() == "keep-alive"
    connection.request("GET", "/healthz")
    assert connection.getresponse().status == 200
    connection.close()
