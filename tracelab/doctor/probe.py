"""Ask a port whether OTLP/gRPC or OTLP/HTTP answers there, with an empty export.

An empty ``ExportTraceServiceRequest`` (zero spans) is valid OTLP: a
collector accepts it and stores nothing. A port that accepts the connection
but answers the other protocol fails the probe, which is how a gRPC-vs-HTTP
mix-up shows.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import grpc
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Probe:
    """One protocol tried at one host:port: did OTLP answer, and what happened."""

    protocol: str
    host: str
    port: int
    answers: bool
    detail: str

    def where(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "protocol": self.protocol,
            "address": self.where(),
            "answers": self.answers,
            "detail": self.detail,
        }


def port_open(host: str, port: int, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True when a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def probe_http(host: str, port: int, url: str | None = None) -> Probe:
    """POST an empty protobuf export to ``url`` (default ``http://host:port/v1/traces``)."""
    target = url or f"http://{host}:{port}/v1/traces"
    try:
        response = requests.post(
            target,
            data=b"",
            headers={"Content-Type": "application/x-protobuf"},
            timeout=PROBE_TIMEOUT_S,
        )
    except requests.RequestException as exc:
        reason = "connection refused" if not port_open(host, port) else _short(exc)
        return Probe("http/protobuf", host, port, False, reason)
    answers = response.status_code == 200
    detail = f"POST {target} -> HTTP {response.status_code}"
    return Probe("http/protobuf", host, port, answers, detail)


def probe_grpc(host: str, port: int) -> Probe:
    """Call ``TraceService/Export`` with an empty request over plaintext gRPC."""
    channel = grpc.insecure_channel(f"{host}:{port}")
    try:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        stub.Export(trace_service_pb2.ExportTraceServiceRequest(), timeout=PROBE_TIMEOUT_S)
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        if not port_open(host, port):
            return Probe("grpc", host, port, False, "connection refused")
        name = code.name if code is not None else "error"
        return Probe("grpc", host, port, False, f"TraceService/Export -> {name}")
    finally:
        channel.close()
    return Probe("grpc", host, port, True, "TraceService/Export -> OK")


def probe(protocol: str, host: str, port: int, http_url: str | None = None) -> Probe:
    """:func:`probe_grpc` or :func:`probe_http` by protocol name."""
    if protocol == "grpc":
        return probe_grpc(host, port)
    return probe_http(host, port, http_url)


def _short(exc: Exception) -> str:
    text = str(exc)
    for marker in ("RemoteDisconnected", "BadStatusLine", "Connection aborted", "timed out"):
        if marker in text:
            return f"connected, but no OTLP/HTTP answer ({marker})"
    return f"connected, but no OTLP/HTTP answer ({type(exc).__name__})"
