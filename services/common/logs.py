"""JSON log lines that carry the active trace and span ids."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from opentelemetry import trace

_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# A record with this attribute true (``extra={LOCAL_ONLY: True}``) is written
# to the JSON lines only, never exported over OTLP (services.common.log_export):
# the line saying that log records were lost would otherwise be one more
# record for a failing export to lose. Underscored, so the JSON line omits it.
LOCAL_ONLY = "_tracelab_local_only"


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object with ``trace_id``/``span_id`` when in a span."""

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self.service_name = service_name

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record``; extra fields passed with ``extra=`` are kept."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service_name,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = format(context.trace_id, "032x")
            entry["span_id"] = format(context.span_id, "016x")
            entry["trace_flags"] = format(context.trace_flags, "02x")
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service_name: str, level: str = "INFO") -> None:
    """Send every log record of the process to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("gunicorn.error", "gunicorn.access", "aiohttp.access"):
        logging.getLogger(noisy).handlers[:] = []
        logging.getLogger(noisy).propagate = True


ACCESS_LOGGER = "tracelab.access"


def access_log_enabled() -> bool:
    """``ACCESS_LOG`` (default true): one INFO line per request, with its trace id."""
    from services.common.config import env_bool

    return env_bool("ACCESS_LOG", True)


def log_access(method: str, path: str, status: int, elapsed_ms: float) -> None:
    """One access line; the formatter adds the current trace and span ids."""
    logging.getLogger(ACCESS_LOGGER).info(
        "%s %s -> %d",
        method,
        path,
        status,
        extra={
            "http.request.method": method,
            "url.path": path,
            "http.response.status_code": status,
            "duration_ms": round(elapsed_ms, 2),
        },
    )
