"""``tracelab verify``: check a trace held by Jaeger or Tempo against a golden shape."""

from __future__ import annotations

import json
from typing import NoReturn

import click

from tracelab.shapes.backends import DEFAULT_URLS, BackendError, client_for
from tracelab.shapes.diff import golden_diff
from tracelab.shapes.ids import normalise_trace_id
from tracelab.shapes.shape import ShapeError, load_shape
from tracelab.shapes.verify import verify_trace

EXIT_MATCH, EXIT_MISMATCH, EXIT_ERROR = 0, 1, 2


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise click.exceptions.Exit(EXIT_ERROR)


@click.command("verify")
@click.argument("shape_file", metavar="SHAPE", type=click.Path(dir_okay=False))
@click.option(
    "--backend",
    type=click.Choice(sorted(DEFAULT_URLS)),
    default="jaeger",
    show_default=True,
    help="Tracing backend to fetch the trace from.",
)
@click.option("--trace-id", required=True, help="Trace id, 32 hex digits.")
@click.option(
    "--url",
    default=None,
    help="Backend base URL (default: jaeger http://127.0.0.1:16686, tempo http://127.0.0.1:3200).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds to keep re-fetching until the trace is complete and matches.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the diff as JSON (what the console draws)."
)
def verify(
    shape_file: str, backend: str, trace_id: str, url: str | None, timeout: float, as_json: bool
) -> None:
    """Check that trace TRACE_ID in the backend has the shape in file SHAPE.

    Exit status: 0 when it matches, 1 when it differs (the diff is printed),
    2 when the trace is not found or the shape file is bad.
    """
    try:
        shape = load_shape(shape_file)
        trace_id = normalise_trace_id(trace_id)
    except (ShapeError, ValueError) as exc:
        _fail(str(exc))
    client = client_for(backend, url)
    try:
        result = verify_trace(client, shape, trace_id, timeout=timeout)
    except BackendError as exc:
        _fail(str(exc))
    click.echo(json.dumps(golden_diff(result), indent=2) if as_json else result.report())
    raise click.exceptions.Exit(EXIT_MATCH if result.ok else EXIT_MISMATCH)
