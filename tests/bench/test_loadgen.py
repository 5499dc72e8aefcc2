"""The load generator against a fake frontend: schedule, statuses, raw timings."""

import subprocess
import sys

import pytest

from tests.bench.fake_frontend import GOOD_TOKEN_PREFIX, serve_in_thread
from tracelab.bench import loadgen
from tracelab.bench.driver import StackProbe, run_load
from tracelab.bench.workload import JOURNEYS, SYNTHETIC_BAGGAGE

ACCOUNTS = [(n, f"{GOOD_TOKEN_PREFIX}{n}") for n in (1, 2, 3)]


@pytest.fixture(scope="module")
def fake():
    with serve_in_thread() as served:
        yield served


async def test_open_loop_sends_the_seeded_schedule_and_records_expected_statuses(fake):
    url, recorder = fake
    recorder.requests.clear()
    marks: list[str] = []
    spec = loadgen.LoadSpec(
        base_url=url, accounts=ACCOUNTS, rate=200.0, warmup_s=0.2, duration_s=0.6, seed=9
    )
    result = await loadgen.generate(spec, marks.append)
    assert marks == [loadgen.MARK_START, loadgen.MARK_END]
    window = [o for o in _offsets(spec) if spec.warmup_s <= o < spec.warmup_s + spec.duration_s]
    assert len(result.status) == len(window)
    assert result.warmup_requests == len(_offsets(spec)) - len(window)
    expected = [JOURNEYS[j].expected_status for j in result.journey]
    assert result.status == expected
    assert len(set(result.journey)) >= 3
    assert all(
        lat >= svc >= 0 for lat, svc in zip(result.latency_us, result.service_us, strict=True)
    )
    assert all(lag >= 0 for lag in result.lag_us)
    assert result.window_s >= 0.6  # the window closes on schedule or (busy machine) later
    assert 0 < result.loadgen_cpu_s < 5
    # Each request's trace id (from traceresponse) and scheduled offset in the window.
    assert len(set(result.trace_id)) == len(result.status)
    assert all(len(t) == 32 for t in result.trace_id)
    assert result.offset_us == sorted(result.offset_us)
    assert result.offset_us[0] >= 0 and result.offset_us[-1] < spec.duration_s * 1e6
    # Every request, warm-up included, carried the synthetic baggage.
    assert len(recorder.requests) == len(_offsets(spec))
    assert all(h.get("baggage") == SYNTHETIC_BAGGAGE for _, _, h in recorder.requests)


def _offsets(spec):
    from tracelab.bench.workload import arrival_offsets

    return arrival_offsets(spec.rate, spec.warmup_s + spec.duration_s, spec.seed)


async def test_rate_steps_shape_the_open_loop_and_offsets_are_kept(fake):
    url, _ = fake
    spec = loadgen.LoadSpec(
        base_url=url,
        accounts=ACCOUNTS,
        rate=20.0,
        warmup_s=0.0,
        duration_s=1.0,
        rate_steps=((0.25, 200.0), (0.5, 20.0)),
        poisson=False,
    )
    assert loadgen.LoadSpec.from_json(spec.to_json()) == spec
    result = await loadgen.generate(spec, lambda _: None)
    assert len(result.offset_us) == len(result.status)
    assert result.offset_us == sorted(result.offset_us)
    assert all(0 <= offset < 1_000_000 for offset in result.offset_us)
    stepped = [o for o in result.offset_us if 250_000 <= o < 500_000]
    assert len(stepped) == 50  # 0.25 s at 200/s
    assert len(result.offset_us) - len(stepped) == 5 + 10  # 0.25 s and 0.5 s at 20/s


async def test_same_seed_same_requests(fake):
    url, _ = fake
    spec = loadgen.LoadSpec(base_url=url, accounts=ACCOUNTS, rate=100.0, warmup_s=0, duration_s=0.3)
    first = await loadgen.generate(spec, lambda _: None)
    second = await loadgen.generate(spec, lambda _: None)
    assert first.journey == second.journey and first.status == second.status


async def test_closed_loop_keeps_concurrency_busy(fake):
    url, _ = fake
    spec = loadgen.LoadSpec(
        base_url=url, accounts=ACCOUNTS, mode="closed", concurrency=4, warmup_s=0.1, duration_s=0.4
    )
    result = await loadgen.generate(spec, lambda _: None)
    # Four loops answering back-to-back: at least one answer each, none scheduled ahead.
    assert len(result.status) >= 4
    assert all(lag >= 0 for lag in result.lag_us)
    assert result.scheduled == result.warmup_requests + len(result.status)
    assert set(result.status) <= {200, 401, 404}


async def test_unreachable_target_is_recorded_not_raised():
    spec = loadgen.LoadSpec(
        base_url="http://127.0.0.1:1", accounts=ACCOUNTS, rate=50.0, warmup_s=0, duration_s=0.2
    )
    result = await loadgen.generate(spec, lambda _: None)
    assert result.status and set(result.status) == {loadgen.STATUS_CONNECTION_ERROR}


def test_spec_and_result_round_trip_through_json():
    spec = loadgen.LoadSpec(base_url="http://x", accounts=ACCOUNTS, weights=[1, 0, 0, 0, 0])
    assert loadgen.LoadSpec.from_json(spec.to_json()) == spec
    result = loadgen.LoadResult("open", 1.0, 1.0, 1.0, 0.1, 3, 0, [0], [200], [5], [4], [1])
    assert loadgen.LoadResult.from_json(result.to_json()) == result


def test_subprocess_driver_samples_at_the_markers(fake, tmp_path):
    url, _ = fake
    me = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        spec = loadgen.LoadSpec(
            base_url=url, accounts=ACCOUNTS, rate=100.0, warmup_s=0.3, duration_s=0.5
        )
        probe = StackProbe(pids={"frontend": me.pid}, logs={}, collector_metrics_url=None)
        result, system = run_load(spec, probe, workdir=tmp_path)
    finally:
        me.kill()
        me.wait()
    assert result.status and all(s > 0 for s in result.status)
    assert set(system.cpu_s) == {"frontend"} and system.cpu_s["frontend"] >= 0
    assert system.rss_bytes["frontend"] > 0
    assert system.spans_accepted == 0
    assert system.machine_busy_s > 0
    assert not list(tmp_path.iterdir())  # the spec/result folder is cleaned up


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("00-" + "ab" * 16 + "-" + "cd" * 8 + "-01", "ab" * 16),
        (None, ""),
        ("garbage", ""),
        ("00-short-" + "cd" * 8 + "-01", ""),
    ],
)
def test_trace_id_of_a_traceresponse_header(header, expected):
    assert loadgen.trace_id_of(header) == expected


def test_main_needs_two_arguments(capsys):
    assert loadgen.main([]) == 2
    assert "usage" in capsys.readouterr().err
