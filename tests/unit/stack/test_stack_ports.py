"""Port checks against real sockets."""

from __future__ import annotations

import socket

from tracelab.stack.ports import can_connect, find_free_port, find_free_ports, is_port_free


def _listen(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen()
    return sock


def test_a_listening_port_is_taken_and_free_again_after_close():
    sock = _listen()
    port = sock.getsockname()[1]
    assert not is_port_free(port)
    assert can_connect(port)
    sock.close()
    assert is_port_free(port)
    assert not can_connect(port)


def test_a_wildcard_listener_makes_the_loopback_port_taken():
    sock = _listen("0.0.0.0")
    try:
        assert not is_port_free(sock.getsockname()[1], "127.0.0.1")
    finally:
        sock.close()


def test_find_free_port_returns_a_bindable_port():
    port = find_free_port()
    assert 1024 <= port <= 65535
    assert is_port_free(port)


def test_find_free_ports_are_distinct_and_free():
    ports = find_free_ports(12)
    assert len(set(ports)) == 12
    assert all(is_port_free(port) for port in ports)
