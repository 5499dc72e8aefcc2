"""The HTTP transport of the lab's OTLP exporters: one kept-alive ``http.client`` connection.

The stock OTLP/HTTP exporters POST through ``requests``. Counted with
callgrind (60 KB bodies to a local server, marginal cost of 30 POSTs):
``requests`` through the SDK's transport 3.39 M instructions per POST,
urllib3 through the SDK's other transport 0.88 M, ``http.client`` 0.36 M.
In ``make bench-exact`` the POST was 12% of what tracing costs at 100%
sampling, so the exporters send over :class:`KeepAliveTransport` instead:
the standard library's client, no library to add, nothing instrumented on
the way (the ``requests`` instrumentation wrapped every export too, only to
find it suppressed).

Only the transport changes. Retries, backoff, ``Retry-After``, compression,
headers and timeouts stay the SDK's (``_OTLPHTTPClient``), which calls any
:class:`~opentelemetry.exporter.http.transport._base.BaseHTTPTransport`;
:func:`exporter_kwargs` plugs ours in through the exporters' ``_transport``
argument. Both are private to the SDK, so like the direct encoders this runs
only on the tested SDK versions (services.common.encoder_guard), and the
stock transport is kept wherever this one would behave differently: a
caller's own ``session``, an OTLP credential provider (a ``requests``
session by definition), or a proxy from ``HTTP(S)_PROXY`` for the endpoint
(requests honours those; ``http.client`` does not).

``timeout`` bounds each socket operation (connect, send, each read), not the
request as a whole; the SDK passes what is left of its export deadline.
"""

from __future__ import annotations

import functools
import http.client
import inspect
import logging
import os
import ssl
import threading
import urllib.request
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from services.common.encoder_guard import direct_encoding_supported

try:
    from opentelemetry.exporter.http.transport._base import BaseHTTPResult, BaseHTTPTransport
except ImportError:  # an SDK without the transport interface: the stock exporters as they are
    BaseHTTPResult = BaseHTTPTransport = None  # type: ignore[assignment,misc]

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}
# The package of BaseHTTPTransport, and its versions tests/unit/common/test_otlp_transport.py
# passed on (it is released apart from the SDK, with the contrib version).
TRANSPORT_PACKAGE = "opentelemetry-exporter-http-transport"
TESTED_TRANSPORT_VERSIONS: tuple[str, ...] = ("0.66b1",)


class ConnectFailed(ConnectionError):
    """No connection to the endpoint could be opened (refused, unreachable, timed out, TLS)."""


@dataclass(frozen=True)
class _Route:
    """One endpoint URL: its connection key (scheme, host, port), request path, proxy use."""

    key: tuple[str, str, int]
    path: str
    proxied: bool


class _Headers(Mapping[str, str]):
    """Response headers, case-insensitive; repeated headers joined with ", "."""

    def __init__(self, message: http.client.HTTPMessage) -> None:
        joined: dict[str, list[str]] = {}
        for name, value in message.items():
            joined.setdefault(name.lower(), []).append(value)
        self._values = {name: ", ".join(values) for name, values in joined.items()}

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


if BaseHTTPResult is not None:

    @dataclass(frozen=True, slots=True)
    class KeepAliveResult(BaseHTTPResult):
        """One answer (status, reason, body, headers) or the error that prevented it."""

        body: bytes = b""
        header_map: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

        def content(self) -> bytes:
            """The response body."""
            return self.body

        def headers(self) -> Mapping[str, str]:
            """The response headers (case-insensitive)."""
            return self.header_map

    class KeepAliveTransport(BaseHTTPTransport):
        """HTTP(S) requests over one persistent ``http.client`` connection per endpoint.

        ``verify`` and ``cert`` mean what they mean to ``requests``: True (the
        system's CAs), False (no verification) or a CA bundle path; a client
        certificate path or a (certificate, key) pair. A connection is opened on
        first use, reused while the server keeps it open, and dropped after any
        error; the SDK's client then retries a connection error once at once,
        which covers a kept-alive connection the server had closed.
        """

        def __init__(self, *, verify: bool | str = True, cert: str | tuple[str, str] | None = None):
            self._verify = verify
            self._cert = cert
            self._tls: ssl.SSLContext | None = None
            self._lock = threading.Lock()
            self._connections: dict[tuple[str, str, int], http.client.HTTPConnection] = {}
            self._routes: dict[str, _Route] = {}
            self._fallback: BaseHTTPTransport | None = None
            _transports.add(self)

        def _after_fork(self) -> None:
            """In a forked child (a gunicorn worker): its own lock, none of the parent's sockets.

            The parent's connections are forgotten, not closed: closing would
            end the TLS session the parent still uses. A lock some thread of the
            parent held at the fork would stay held in the child for ever.
            """
            self._lock = threading.Lock()
            self._connections = {}

        def request(
            self,
            method: str,
            url: str,
            *,
            headers: dict[str, str] | None = None,
            timeout: float | None = None,
            data: bytes | None = None,
        ) -> BaseHTTPResult:
            """Send one request; never raises (a failure is the result's ``error``)."""
            try:
                route = self._route(url)
            except ValueError as error:
                return KeepAliveResult(error=error)
            if route.proxied:
                return self._stock().request(
                    method, url, headers=headers, timeout=timeout, data=data
                )
            key, path = route.key, route.path
            with self._lock:
                try:
                    connection = self._connection(key, timeout)
                    connection.request(method, path, body=data, headers=headers or {})
                    response = connection.getresponse()
                    body = response.read()
                except Exception as error:  # the connection is unusable now, whatever broke it
                    self._drop(key)
                    return KeepAliveResult(error=error)
                if response.will_close:
                    self._drop(key)
            return KeepAliveResult(
                status_code=response.status,
                reason=response.reason,
                body=body,
                header_map=_Headers(response.headers),
            )

        def is_connection_error(self, exception: Exception | None) -> bool:
            """True for failures before the server could have handled the request.

            A read timeout is not one: the server may have taken the batch, so
            it is not sent again at once (as with the SDK's urllib3 transport).
            """
            return isinstance(
                exception,
                ConnectFailed
                | http.client.RemoteDisconnected
                | BrokenPipeError
                | ConnectionResetError
                | ConnectionAbortedError
                | http.client.BadStatusLine,
            )

        def close(self) -> None:
            """Close every connection (and the fallback's session)."""
            with self._lock:
                for key in list(self._connections):
                    self._drop(key)
                if self._fallback is not None:
                    self._fallback.close()

        # -- internals ---------------------------------------------------------------
        def _route(self, url: str) -> _Route:
            """Where ``url`` goes (parsed once per URL; the exporters use one each)."""
            route = self._routes.get(url)
            if route is None:
                parts = urlsplit(url)
                if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
                    raise ValueError(f"not an http(s) URL: {url!r}")
                proxies = urllib.request.getproxies()
                route = _Route(
                    key=(parts.scheme, parts.hostname, parts.port or _DEFAULT_PORTS[parts.scheme]),
                    path=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                    proxied=parts.scheme in proxies
                    and not urllib.request.proxy_bypass(parts.hostname),
                )
                self._routes[url] = route
            return route

        def _connection(
            self, key: tuple[str, str, int], timeout: float | None
        ) -> http.client.HTTPConnection:
            connection = self._connections.get(key)
            if connection is None:
                scheme, host, port = key
                if scheme == "https":
                    connection = http.client.HTTPSConnection(
                        host, port, timeout=timeout, context=self._tls_context()
                    )
                else:
                    connection = http.client.HTTPConnection(host, port, timeout=timeout)
                try:
                    connection.connect()
                except (OSError, ssl.SSLError) as error:
                    connection.close()
                    raise ConnectFailed(f"cannot connect to {host}:{port}: {error}") from error
                self._connections[key] = connection
            elif connection.sock is not None:
                connection.sock.settimeout(timeout)
            connection.timeout = timeout
            return connection

        def _drop(self, key: tuple[str, str, int]) -> None:
            connection = self._connections.pop(key, None)
            if connection is not None:
                connection.close()

        def _tls_context(self) -> ssl.SSLContext:
            if self._tls is None:
                verify = self._verify
                context = ssl.create_default_context(
                    cafile=verify if isinstance(verify, str) else None
                )
                if verify is False:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                if isinstance(self._cert, tuple):
                    context.load_cert_chain(self._cert[0], self._cert[1])
                elif self._cert:
                    context.load_cert_chain(self._cert)
                self._tls = context
            return self._tls

        def _stock(self) -> BaseHTTPTransport:
            if self._fallback is None:
                from opentelemetry.exporter.http.transport._requests import (
                    RequestsHTTPTransport,
                )

                self._fallback = RequestsHTTPTransport(verify=self._verify, cert=self._cert)
            return self._fallback

    _transports: weakref.WeakSet[KeepAliveTransport] = weakref.WeakSet()

    def _reset_after_fork() -> None:
        for transport in list(_transports):
            transport._after_fork()

    os.register_at_fork(after_in_child=_reset_after_fork)


@dataclass(frozen=True)
class SignalEnv:
    """The variables that choose one signal's TLS files and credentials."""

    certificate: str
    client_key: str
    client_certificate: str
    credential_provider: str


TRACES = SignalEnv(
    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER",
)
LOGS = SignalEnv(
    "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_LOGS_CREDENTIAL_PROVIDER",
)
_GENERAL = SignalEnv(
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
)


def keep_alive_supported() -> bool:
    """True when the installed SDK and transport package are versions this was tested on.

    The SDK's half is the encoders' decision (encoder_guard, made once per
    process); the transport package's is made once too, with one warning
    when it is not a tested version.
    """
    return (
        BaseHTTPTransport is not None and direct_encoding_supported() and transport_package_tested()
    )


@functools.cache
def transport_package_tested() -> bool:
    """True when the transport package is a tested version (else one warning)."""
    try:
        version = metadata.version(TRANSPORT_PACKAGE)
    except metadata.PackageNotFoundError:
        version = "none"
    if version not in TESTED_TRANSPORT_VERSIONS:
        log.warning(
            "%s %s is not a version the lab's OTLP transport was tested on (%s): "
            "the exporters send through the stock requests transport",
            TRANSPORT_PACKAGE,
            version,
            ", ".join(TESTED_TRANSPORT_VERSIONS),
        )
        return False
    return True


def _setting(bound: Mapping[str, Any], argument: str, specific: str, general: str) -> Any:
    return bound.get(argument) or os.environ.get(specific) or os.environ.get(general)


def exporter_kwargs(
    exporter_init: Any, signal: SignalEnv, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """``kwargs`` with ``_transport`` set to a :class:`KeepAliveTransport` where it may be.

    ``exporter_init`` is the stock exporter's ``__init__``; ``args``/``kwargs``
    what the caller gave. The certificate files resolve as the SDK resolves
    them (argument, then the signal's variable, then the general one).
    Unchanged where the stock transport must stay (see the module docstring).
    """
    if not keep_alive_supported():
        return kwargs
    try:
        signature = inspect.signature(exporter_init)
        bound = signature.bind_partial(None, *args, **kwargs).arguments
    except TypeError:
        return kwargs
    if "_transport" not in signature.parameters or bound.get("session") or bound.get("_transport"):
        return kwargs
    if os.environ.get(signal.credential_provider) or os.environ.get(_GENERAL.credential_provider):
        return kwargs
    verify = _setting(bound, "certificate_file", signal.certificate, _GENERAL.certificate) or True
    key = _setting(bound, "client_key_file", signal.client_key, _GENERAL.client_key)
    certificate = _setting(
        bound, "client_certificate_file", signal.client_certificate, _GENERAL.client_certificate
    )
    cert = (certificate, key) if certificate and key else certificate
    return {**kwargs, "_transport": KeepAliveTransport(verify=verify, cert=cert)}
