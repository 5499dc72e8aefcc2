"""``make bench-console``: how fast the console searches and draws, on the real local stack.

Two measurements, each repeated and reported with its median and worst:

1. Search over at least 1,000 stored traces: the journeys of
   :mod:`tracelab.journeys` are sent through the frontend until Jaeger holds
   that many in the window, then the console's ``/api/search`` is timed for
   a plain search, service + operation, an attribute filter, errors only, a
   whole-trace duration filter and a 1,000-trace listing (the last four make
   the console read up to 1,000 candidate traces from Jaeger).
2. A 2,000-span trace drawn in the browser: one synthetic trace (2,000 spans,
   up to 7 levels deep) is sent through the real collector to Jaeger, then
   opened in Debian's Chromium: from the page's navigation to its waterfall
   drawn (page load, the console's API, Jaeger, the drawing), the drawing
   alone, and navigation to "complete" (one more fetch, a second later, that
   confirms no span is still arriving).

Results go to ``results/console-bench-<time>.json`` and are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from tracelab.scenarios.traffic import Traffic
from tracelab.shapes.backends import JaegerClient
from tracelab.shapes.query import TraceQuery
from tracelab.stack import Stack
from tracelab.stack.paths import repo_root

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SEARCHES = {
    "recent 20": "limit=20",
    "service + operation": "service=frontend&operation=GET%20/api/dashboard&limit=20",
    "attribute filter": "attributes=http.route%3D%2Fapi%2Fdashboard&limit=20",
    "errors only": "errors=true&limit=20",
    "trace duration > 15ms": "min_duration=15ms&limit=20",
    # Nothing matches: every one of the 1,000 candidates is read and checked.
    "no match (reads all)": "min_duration=1h&limit=20",
    "list 1,000": "limit=1000",
}
MIX = (("profile", 40), ("dashboard", 40), ("login", 8), ("bad_token", 6), ("not_found", 6))


def _stats(samples: list[float]) -> dict[str, float]:
    return {
        "runs": len(samples),
        "median_ms": round(statistics.median(samples), 1),
        "max_ms": round(max(samples), 1),
        "min_ms": round(min(samples), 1),
    }


def fill_traces(frontend: str, jaeger: str, wanted: int, since: float) -> int:
    """Send journeys until Jaeger holds ``wanted`` traces started after ``since``."""
    traffic = Traffic(frontend)
    client = JaegerClient(jaeger, scan_limit=wanted)
    try:
        while True:
            held = len(
                client.find_traces(TraceQuery(start=since, end=time.time() + 1, limit=wanted))
            )
            if held >= wanted:
                return held
            missing = wanted - held
            for name, share in MIX:
                traffic.burst(name, max(1, missing * share // 100 + 1), 6)
            time.sleep(3)  # the services' batch export, then the collector's
    finally:
        traffic.close()
        client.close()


def time_searches(console: str, since: float, repeats: int) -> dict[str, Any]:
    """Each search of :data:`SEARCHES`, ``repeats`` times, over the window since ``since``."""
    results = {}
    with requests.Session() as http:
        for label, query in SEARCHES.items():
            samples, answer = [], {}
            end_ms = int((time.time() + 1) * 1000)
            url = f"{console}/api/search?{query}&start={int(since * 1000)}&end={end_ms}"
            for _ in range(repeats):
                started = time.perf_counter()
                response = http.get(url, timeout=60)
                samples.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                answer = response.json()
            results[label] = {
                **_stats(samples),
                "found": len(answer["traces"]),
                "scanned": answer["scanned"],
            }
    return results


def send_wide_trace(otlp_http: str, spans: int) -> str:
    """One synthetic trace of ``spans`` spans through the collector; its trace id."""
    provider = TracerProvider(resource=Resource.create({"service.name": "bench-synthetic"}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_http}/v1/traces"), max_queue_size=4096)
    )
    tracer = provider.get_tracer("tracelab.bench.console")
    made = 1

    def step(depth: int) -> None:
        """A step with up to 9 pieces of work, and below it the next step (5 levels deep)."""
        nonlocal made
        with tracer.start_as_current_span(f"step {made}"):
            made += 1
            for piece in range(9):
                if made >= spans:
                    return
                # INTERNAL: a CLIENT span would wait for a server span that never comes.
                with tracer.start_as_current_span(f"work {piece}") as span:
                    span.set_attribute("bench.index", made)
                    made += 1
            if depth < 5 and made < spans:
                step(depth + 1)

    with tracer.start_as_current_span("GET /synthetic", kind=SpanKind.SERVER) as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        while made < spans:
            step(1)
    provider.shutdown()
    return trace_id


def time_rendering(console: str, trace_id: str, repeats: int) -> dict[str, Any]:
    """Open the trace in Chromium ``repeats`` times: navigation to drawn, and drawing alone."""
    from playwright.sync_api import sync_playwright

    total, first_draw, drawing = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1440, "height": 960})
        for _ in range(repeats):
            page.goto("about:blank")
            started = time.perf_counter()
            page.goto(f"{console}/#/trace/{trace_id}?backend=jaeger")
            page.wait_for_selector("#waterfall[data-drawn-at]", timeout=60_000)
            first_draw.append(float(page.locator("#waterfall").get_attribute("data-drawn-at")))
            drawing.append(float(page.locator("#waterfall").get_attribute("data-render-ms")))
            page.wait_for_selector('#view-trace[data-state="complete"]', timeout=60_000)
            total.append((time.perf_counter() - started) * 1000)
            rows = int(page.locator("#waterfall").get_attribute("data-spans"))
        browser.close()
    # "complete" needs one confirming fetch a poll interval (1 s) later: reported apart.
    return {
        "navigation_to_waterfall_drawn": _stats(first_draw),
        "waterfall_drawing_alone": _stats(drawing),
        "navigation_to_complete": _stats(total),
        "spans": rows,
    }


def main(argv: list[str] | None = None) -> int:
    """Run both measurements against the local stack (started if needed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=1000)
    parser.add_argument("--spans", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    root = repo_root()
    info = Stack(root).up(timeout=180)
    since = time.time() - 1
    print(f"filling Jaeger with {args.traces} traces through the frontend...")
    held = fill_traces(info.urls["frontend"], info.urls["jaeger"], args.traces, since)
    print(f"Jaeger holds {held} traces in the window; timing searches...")
    searches = time_searches(info.urls["console"], since, args.repeats)
    print(f"sending one {args.spans}-span trace through the collector...")
    trace_id = send_wide_trace(info.urls["otlp_http"], args.spans)
    JaegerClient(info.urls["jaeger"]).wait_for_trace(trace_id, min_spans=args.spans, timeout=60)
    rendering = time_rendering(info.urls["console"], trace_id, args.repeats)
    document = {"traces_held": held, "search": searches, "render": rendering, "trace_id": trace_id}
    out = root / "results" / f"console-bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2))
    print(json.dumps(document, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
