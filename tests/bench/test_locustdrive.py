"""The Locust driver: paced to the target rate, latency from the intended send time.

It runs as the benchmark runs it, a subprocess (Locust patches the standard
library with gevent), against fakes in this process: the fake frontend for
the project's locustfile, and a server that stalls once for a user's own.
"""

from __future__ import annotations

import asyncio
import textwrap
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from aiohttp import web

from tests.bench.fake_frontend import serve_in_thread
from tracelab.bench.driver import run_generator
from tracelab.bench.loadgen import LoadResult, LoadSpec
from tracelab.bench.metrics import SystemWindow, round_metrics
from tracelab.journeys import JOURNEYS
from tracelab.stack.paths import repo_root

PROJECT_LOCUSTFILE = str(repo_root() / "loadtest" / "locustfile.py")


def _drive(spec: LoadSpec) -> LoadResult:
    result, _lines = run_generator(spec, lambda proc: list(proc.stdout))
    return result


def test_the_project_locustfile_holds_the_target_rate():
    with serve_in_thread() as (url, recorder):
        spec = LoadSpec(
            base_url=url, accounts=[], driver="locust", locustfile=PROJECT_LOCUSTFILE,
            rate=40.0, warmup_s=1.0, duration_s=4.0, seed=7,
        )  # fmt: skip
        result = _drive(spec)
    assert result.users == 40  # rate x 1 s: every user sends once a second
    # Each user has exactly one slot per second of the window: the plan is the
    # target, and the planned sends started inside the window (on a busy
    # machine one due in the window's last milliseconds may start just after).
    assert result.planned_in_window == 160
    assert result.started_in_window >= 157
    assert len(result.status) >= 160  # a 401 can add a re-login
    assert set(result.journeys) <= {j.name for j in JOURNEYS}
    assert {"profile", "dashboard"} <= set(result.journeys)
    assert sum(result.failed) == 0
    assert all(len(t) == 32 for t in result.trace_id)
    # How late the sends were (gevent waking a user late on a busy machine)
    # is measured, and charged: every latency is its service time plus it.
    assert (np.asarray(result.latency_us) >= np.asarray(result.service_us)).all()
    metrics = round_metrics("off", 1, result, SystemWindow(cpu_s={}, rss_bytes={}))
    assert metrics.achieved_rate_rps == 40.0 or abs(metrics.achieved_rate_rps - 40.0) < 1.0
    assert "missed the target rate" not in " ".join(metrics.invalid_reasons)
    assert recorder.requests


@contextmanager
def stalling_server(stall_s: float, at_request: int) -> Iterator[str]:
    """Answers /hit at once, except request number ``at_request``, which waits ``stall_s``."""
    seen = Counter()

    async def hit(_request: web.Request) -> web.Response:
        seen["hit"] += 1
        if seen["hit"] == at_request:
            await asyncio.sleep(stall_s)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/hit", hit)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.run_until_complete(runner.cleanup())
        loop.close()


USER_LOCUSTFILE = """
    from locust import HttpUser, constant, task

    class Reader(HttpUser):
        wait_time = constant(30)  # the benchmark's pacing replaces it

        @task
        def hit(self):
            self.client.get("/hit", name="my hit")
"""


def test_a_users_own_locustfile_is_paced_and_a_stall_is_charged_to_latency(tmp_path):
    """``--locustfile``: the user's classes run paced; a late send counts as latency.

    One user at 10/s (a send every 100 ms) meets a 1 s stall: the sends it could
    not make on time go out late, and each is timed from its intended send.
    """
    locustfile = tmp_path / "mine.py"
    locustfile.write_text(textwrap.dedent(USER_LOCUSTFILE))
    with stalling_server(stall_s=1.0, at_request=12) as url:
        spec = LoadSpec(
            base_url=url, accounts=[], driver="locust", locustfile=str(locustfile),
            rate=10.0, users=1, warmup_s=0.5, duration_s=4.0, seed=1,
        )  # fmt: skip
        result = _drive(spec)
    assert result.journeys == ["my hit"]
    assert result.planned_in_window == 40
    assert result.started_in_window >= 38  # it caught up after the stall
    latency, service, lag = (
        np.asarray(a) for a in (result.latency_us, result.service_us, result.lag_us)
    )
    assert (latency == service + lag).all()
    late = lag > 200_000
    # The ~9 sends due during the stall went out late, by up to the whole second ...
    assert 5 <= late.sum() <= 10
    assert lag.max() > 700_000
    # ... and their latency includes the wait: without the correction they look instant.
    assert latency[late].min() > 200_000
    assert service[late].max() < 100_000
    assert np.percentile(latency, 90) > 5 * np.percentile(service, 90)


def test_bench_settings_hand_the_driver_and_a_users_locustfile_to_the_load(tmp_path):
    from types import SimpleNamespace

    from tracelab.bench.runner import BenchRunner, BenchSettings

    mine = tmp_path / "mine.py"
    mine.write_text(textwrap.dedent(USER_LOCUSTFILE))
    settings = BenchSettings(
        root=repo_root(), out_dir=tmp_path, run_dir=tmp_path / "run", locustfile=mine, users=7,
        configs=["off", "ratio-1pct"], rounds=2, probe_concurrency=(8, 32),
    )  # fmt: skip
    runner = BenchRunner(settings)
    spec = runner._spec(SimpleNamespace(frontend_url="http://127.0.0.1:1"), [], rate=5.0)
    assert (spec.driver, spec.locustfile, spec.users) == ("locust", str(mine), 7)
    assert settings.to_dict()["locustfile"] == str(mine)
    # Progress: the two probe levels, then 2 rounds of 2 configurations.
    assert len(runner.phase_weights()) == 2 + 2 * 2
    default = BenchSettings(root=repo_root(), out_dir=tmp_path, run_dir=tmp_path / "run")
    assert default.driver == "locust"
    assert default.locustfile_path == repo_root() / "loadtest" / "locustfile.py"


def test_a_locustfile_needs_the_locust_driver(tmp_path):
    from click.testing import CliRunner

    from tracelab.bench.cli import bench

    mine = tmp_path / "mine.py"
    mine.write_text("")
    result = CliRunner().invoke(bench, ["--driver", "open-loop", "--locustfile", str(mine)])
    assert result.exit_code == 2
    assert "needs --driver locust" in result.output
