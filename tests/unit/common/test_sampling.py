"""The rate-limiting sampler: token bucket, decisions, parent-based wrapper, entry points."""

from __future__ import annotations

import threading
import time

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision

from services.common import sampling
from services.common.sampling import (
    ParentBasedRateLimiting,
    RateLimitingSampler,
    TokenBucket,
    sampler_from_entry_point,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refills_at_the_rate():
    clock = Clock()
    bucket = TokenBucket(2.0, clock=clock)
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock.now += 0.5  # one token
    assert [bucket.take() for _ in range(2)] == [True, False]
    clock.now += 60  # never more than the burst
    assert sum(bucket.take() for _ in range(10)) == 2


def test_zero_rate_samples_nothing_after_the_first():
    clock = Clock()
    bucket = TokenBucket(0.0, clock=clock)
    assert bucket.take() is True
    clock.now += 1000
    assert bucket.take() is False


def test_sampler_decisions_and_description():
    clock = Clock()
    sampler = RateLimitingSampler(3, clock=clock)
    decisions = [sampler.should_sample(None, i, "span").decision for i in range(5)]
    assert decisions.count(Decision.RECORD_AND_SAMPLE) == 3
    assert decisions[3:] == [Decision.DROP, Decision.DROP]
    assert sampler.get_description() == "RateLimitingSampler{3/s}"


def test_the_limit_holds_under_threads():
    sampler = RateLimitingSampler(50, clock=Clock())  # the clock never moves
    results: list[Decision] = []
    lock = threading.Lock()

    def work() -> None:
        for i in range(100):
            decision = sampler.should_sample(None, i, "s").decision
            with lock:
                results.append(decision)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(Decision.RECORD_AND_SAMPLE) == 50


def test_parent_based_children_follow_the_root_decision():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBasedRateLimiting(1))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    for _ in range(3):
        with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
            pass
    names = [span.name for span in exporter.get_finished_spans()]
    # One trace per second: the first root and its child only; the others are dropped whole.
    assert names == ["child", "root"]
    assert "RateLimitingSampler{1/s}" in provider.sampler.get_description()
    provider.shutdown()
    assert not trace.get_current_span().get_span_context().is_valid


def test_entry_points_select_the_samplers():
    chosen = sampler_from_entry_point(
        {"OTEL_TRACES_SAMPLER": "parentbased_ratelimiting", "OTEL_TRACES_SAMPLER_ARG": "7"}
    )
    assert isinstance(chosen, ParentBasedRateLimiting)
    assert "7/s" in chosen.get_description()
    plain = sampler_from_entry_point({"OTEL_TRACES_SAMPLER": "ratelimiting"})
    assert isinstance(plain, RateLimitingSampler)
    assert plain.traces_per_second == sampling.DEFAULT_TRACES_PER_SECOND


@pytest.mark.parametrize("name", ["", "parentbased_traceidratio", "always_on"])
def test_sdk_samplers_are_left_to_the_sdk(name):
    assert sampler_from_entry_point({"OTEL_TRACES_SAMPLER": name}) is None


def test_a_bad_argument_falls_back_to_the_default_rate():
    chosen = sampler_from_entry_point(
        {"OTEL_TRACES_SAMPLER": "ratelimiting", "OTEL_TRACES_SAMPLER_ARG": "lots"}
    )
    assert chosen.traces_per_second == sampling.DEFAULT_TRACES_PER_SECOND


def test_the_bucket_is_updated_by_one_thread_at_a_time():
    """The token bucket's read-modify-write holds its lock: without it this fails.

    The clock is read inside the critical section and sleeps there, forcing a
    thread switch in the middle of an update: with the lock no other thread
    can enter meanwhile, without it all eight are inside at once.
    """
    guard = threading.Lock()
    inside = [0, 0]  # now, most ever

    def clock() -> float:
        with guard:
            inside[0] += 1
            inside[1] = max(inside[1], inside[0])
        time.sleep(0.002)
        with guard:
            inside[0] -= 1
        return 100.0  # never moves: no refill

    sampler = RateLimitingSampler(5, clock=clock)
    decisions: list[Decision] = []

    def work() -> None:
        for i in range(10):
            decision = sampler.should_sample(None, i, "s").decision
            with guard:
                decisions.append(decision)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert inside[1] == 1, f"{inside[1]} threads updated the bucket at once"
    assert decisions.count(Decision.RECORD_AND_SAMPLE) == 5
