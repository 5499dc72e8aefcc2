"""Concerns shared by every tracelab service: config, telemetry, HTTP, errors, logs."""
