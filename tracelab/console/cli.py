"""``tracelab console``: serve the trace explorer (settings from the environment, flags win)."""

from __future__ import annotations

import dataclasses

import click

from tracelab.console.settings import ConsoleSettings


@click.command()
@click.option(
    "--host", default=None, help="Bind address (default TRACELAB_CONSOLE_HOST or 127.0.0.1)."
)
@click.option(
    "--port", type=int, default=None, help="Port (default TRACELAB_CONSOLE_PORT or 8090)."
)
@click.option("--jaeger", "jaeger_url", default=None, help="Jaeger query URL (JAEGER_QUERY_URL).")
@click.option(
    "--tempo", "tempo_url", default=None, help="Tempo URL (TEMPO_QUERY_URL), if one runs."
)
def console(
    host: str | None, port: int | None, jaeger_url: str | None, tempo_url: str | None
) -> None:
    """Serve the tracelab console: search, trace view, journeys and scenarios."""
    from tracelab.console.serve import serve

    settings = ConsoleSettings.from_env()
    backends = dict(settings.backends)
    if jaeger_url:
        backends["jaeger"] = jaeger_url.rstrip("/")
    if tempo_url:
        backends["tempo"] = tempo_url.rstrip("/")
    changes = {"backends": backends}
    if host:
        changes["bind_host"] = host
    if port:
        changes["port"] = port
    serve(dataclasses.replace(settings, **changes))
