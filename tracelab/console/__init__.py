"""The tracelab console: a trace explorer for every mode, with journeys and scenarios.

Its own process (``tracelab console``, ``python -m tracelab.console``),
bound to 127.0.0.1:8090 by default. It reads traces through the backend
clients of :mod:`tracelab.shapes.backends` only, fires journeys through the
frontend's public API, switches scenarios through the services' admin API,
and reads the services' JSON logs in local mode. It is not instrumented:
its own HTTP calls never appear in the traces it shows.
"""
