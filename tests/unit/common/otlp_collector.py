"""An in-process OTLP/HTTP collector for the exporters' unit tests: a requests adapter."""

from __future__ import annotations

import requests

from services.common.otlp_encoding import FastOTLPSpanExporter
from services.common.otlp_log_encoding import FastOTLPLogExporter


class Collector(requests.adapters.BaseAdapter):
    """Answers every OTLP POST with ``status``, counts the requests and keeps the bodies."""

    def __init__(self, status: int = 200) -> None:
        super().__init__()
        self.status = status
        self.requests = 0
        self.bodies: list[bytes] = []

    def send(self, request, **kwargs):
        """Answer ``request`` without a network."""
        self.requests += 1
        self.bodies.append(request.body)
        response = requests.Response()
        response.status_code = self.status
        response._content = b""
        response.request = request
        response.url = request.url
        return response

    def close(self) -> None:
        """Nothing to release."""


def session(collector: Collector) -> requests.Session:
    """A session whose every ``http://`` request goes to ``collector``."""
    routed = requests.Session()
    routed.mount("http://", collector)
    return routed


def span_exporter(collector: Collector) -> FastOTLPSpanExporter:
    """The direct span exporter, posting to ``collector``."""
    return FastOTLPSpanExporter(
        endpoint="http://collector.invalid/v1/traces", session=session(collector), timeout=1
    )


def log_exporter(collector: Collector) -> FastOTLPLogExporter:
    """The direct log exporter, posting to ``collector``."""
    return FastOTLPLogExporter(
        endpoint="http://collector.invalid/v1/logs", session=session(collector), timeout=1
    )
