"""Prometheus text parsing, collector scraping, log scanning and /proc sampling."""

import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest

from tracelab.bench import logscan, procs, promtext

COLLECTOR_METRICS = """\
# HELP otelcol_receiver_accepted_spans Number of spans successfully pushed into the pipeline.
# TYPE otelcol_receiver_accepted_spans counter
otelcol_receiver_accepted_spans{receiver="otlp",transport="http"} 268
otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"} 32
otelcol_receiver_refused_spans{receiver="otlp",transport="http"} 1
otelcol_exporter_sent_spans_total{exporter="otlp_grpc/jaeger",server_address="127.0.0.1"} 290
otelcol_exporter_send_failed_spans{exporter="otlp_grpc/jaeger"} 4
otelcol_process_uptime 9.94
target_info{service_name="tracelab-otelcol",note="a \\"quoted\\" value"} 1
"""


def test_parse_prometheus_text_with_labels_and_escapes():
    samples = promtext.parse(COLLECTOR_METRICS)
    assert ("otelcol_process_uptime", {}, 9.94) in samples
    info = next(labels for name, labels, _ in samples if name == "target_info")
    assert info["note"] == 'a "quoted" value'
    assert promtext.total(samples, promtext.ACCEPTED) == 300.0
    assert promtext.total(samples, promtext.SENT) == 290.0  # the _total spelling counts too
    assert promtext.total(samples, "no_such_metric") == 0.0


# Prometheus 3 exposes UTF-8 names: quoted, inside the braces.
UTF8_METRICS = """\
# HELP "my.metric" A histogram whose name has a dot.
# TYPE "my.metric" histogram
{"my.metric", le="1"} 3
{"my.metric", le="+Inf"} 4
{"my.metric_sum"} 2.5
{"my.metric_count"} 4
# TYPE http_calls_total counter
http_calls_total{"http.route"="/api/users/{id}"} 7
"""


def test_parse_reads_prometheus_3_quoted_utf8_names():
    samples = promtext.parse(UTF8_METRICS)
    assert ("my.metric", {"le": "1"}, 3.0) in samples
    assert ("my.metric_count", {}, 4.0) in samples
    assert ("http_calls_total", {"http.route": "/api/users/{id}"}, 7.0) in samples


def test_openmetrics_pages_and_their_exemplars_are_read_too():
    page = (
        '# TYPE "my.calls" counter\n'
        '{"my.calls_total", span_kind="SPAN_KIND_SERVER"} 3 # {trace_id="5b8e"} 1\n'
        "# EOF\n"
    )
    assert promtext.parse(page, openmetrics=True) == [
        ("my.calls_total", {"span_kind": "SPAN_KIND_SERVER"}, 3.0)
    ]
    assert promtext.exemplars(page) == [("my.calls_total", {"trace_id": "5b8e"})]


def test_span_counters_difference_and_drops():
    later = promtext.SpanCounters.from_samples(promtext.parse(COLLECTOR_METRICS))
    earlier = promtext.SpanCounters(accepted=100.0, sent=90.0, refused=1.0)
    delta = later.minus(earlier)
    assert delta.accepted == 200.0 and delta.sent == 200.0
    assert delta.dropped == 4.0  # refused 0 more, send_failed 4


@pytest.fixture
def metrics_server():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = COLLECTOR_METRICS.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()
    server.server_close()


def test_scrape_reads_a_live_endpoint_and_tolerates_a_dead_one(metrics_server):
    counters = promtext.scrape(metrics_server)
    assert counters is not None and counters.accepted == 300.0
    dead = metrics_server.rsplit(":", 1)[0] + ":1/metrics"
    assert promtext.scrape(dead, timeout=0.5) is None


def test_log_scan_counts_only_lines_after_the_offset(tmp_path):
    log = tmp_path / "auth.log"
    log.write_text('{"message": "Queue full, dropping span."}\n')
    start = logscan.offsets({"auth": log, "missing": tmp_path / "none.log"})
    assert start == {"auth": log.stat().st_size, "missing": 0}
    with log.open("a") as handle:
        handle.write('{"message": "Queue full, dropping span."}\n' * 3)
        handle.write('{"message": "Failed to export span batch code: 503"}\n')
        handle.write('{"message": "an ordinary line"}\n')
    counts = logscan.count_all({"auth": log, "missing": tmp_path / "none.log"}, start)
    assert counts == logscan.LogCounts(dropped_spans=3, failed_exports=1)


BURNER = """
import os, sys, time
os.fork()
deadline = time.process_time() + 0.3
while time.process_time() < deadline:
    pass
print("burned", flush=True)
sys.stdin.read()  # both processes exit when the test closes stdin
"""


def test_component_cpu_includes_children():
    proc = subprocess.Popen(
        [sys.executable, "-c", BURNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        before = procs.sample_component(proc.pid)
        assert proc.stdout.readline().strip() == "burned"
        assert proc.stdout.readline().strip() == "burned"  # parent and forked child
        after = procs.sample_component(proc.pid)
        children = psutil.Process(proc.pid).children()
        assert after.processes == 2 and len(children) == 1
        # Both processes burned 0.3 s of CPU, mostly after `before` was taken.
        assert procs.cpu_delta(before, after) >= 0.3
        assert after.rss_bytes > 0
        assert procs.cpu_deltas({"x": before}, {"x": after, "y": after}) == {
            "x": procs.cpu_delta(before, after)
        }
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive
    assert procs.sample_component(proc.pid).processes == 0


def test_machine_times_grow_with_work():
    before = procs.machine_times()
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    after = procs.machine_times()
    assert after.busy - before.busy >= 0.15
    assert after.steal >= before.steal >= 0
