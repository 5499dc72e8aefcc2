"""Trace analysis on the backend-neutral span model: critical path, self time, statistics."""
