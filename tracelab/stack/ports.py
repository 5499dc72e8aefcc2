"""Port checks with real sockets: free or taken, and a free one on demand."""

from __future__ import annotations

import socket

LOCALHOST = "127.0.0.1"


def is_port_free(port: int, host: str = LOCALHOST) -> bool:
    """True when a server could listen on ``host:port`` now.

    Binds with SO_REUSEADDR, as servers do, so sockets lingering in TIME_WAIT
    do not count as taken; a listener on the wildcard address does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def find_free_port(host: str = LOCALHOST) -> int:
    """Return a port the kernel considers free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_free_ports(count: int, host: str = LOCALHOST) -> list[int]:
    """Return ``count`` distinct free ports (all held open while choosing)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def can_connect(port: int, host: str = LOCALHOST, timeout: float = 0.5) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
