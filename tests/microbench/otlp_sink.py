"""A minimal OTLP/HTTP trace and log receiver for the microbenchmark, run as a subprocess.

``python tests/microbench/otlp_sink.py`` listens on a free 127.0.0.1 port,
prints ``PORT <n>``, answers every ``POST /v1/traces`` (``/v1/logs``) with an
empty ExportTraceServiceResponse (ExportLogsServiceResponse), and counts the
spans (log records) it decoded; ``GET /stats`` returns
``{"requests": r, "spans": s, "logs": l}``. Running it in its own process
keeps its CPU out of the measured process.
"""

from __future__ import annotations

import json
import threading

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from stub_server import QuietHandler, serve

_lock = threading.Lock()
_counts = {"requests": 0, "spans": 0, "logs": 0}
_EMPTY = ExportTraceServiceResponse().SerializeToString()
_EMPTY_LOGS = ExportLogsServiceResponse().SerializeToString()


class Handler(QuietHandler):
    """POST /v1/traces, POST /v1/logs and GET /stats."""

    def do_POST(self) -> None:
        """Decode an export request, count its spans or log records, answer 200."""
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/v1/logs":
            logs = ExportLogsServiceRequest()
            logs.ParseFromString(body)
            records = sum(len(sl.log_records) for rl in logs.resource_logs for sl in rl.scope_logs)
            with _lock:
                _counts["requests"] += 1
                _counts["logs"] += records
            self.answer(_EMPTY_LOGS, "application/x-protobuf")
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
        with _lock:
            _counts["requests"] += 1
            _counts["spans"] += spans
        self.answer(_EMPTY, "application/x-protobuf")

    def do_GET(self) -> None:
        """The counts so far."""
        with _lock:
            body = json.dumps(_counts).encode()
        self.answer(body, "application/json")


def main() -> None:
    """Serve until killed."""
    serve(Handler)


if __name__ == "__main__":
    main()
