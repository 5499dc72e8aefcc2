"""Sampling strategies side by side: ``tracelab sampling compare``."""
