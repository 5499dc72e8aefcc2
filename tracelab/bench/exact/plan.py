"""The fixed, seeded request sequence of an exact run, with the sampling decided by it.

The journeys and their mix are those of the time benchmark
(:mod:`tracelab.bench.workload`). Each request carries a ``traceparent``
whose sampled flag the plan sets: with a ratio ``p``, exactly the requests
where ``floor((i+1)p) > floor(ip)`` are sampled (every ``1/p``-th one). The
services' parent-based samplers follow it, so 1% and 10% sample the same
requests in every run; the SDK's own ratio sampler would decide from random
trace ids and make the counts of a 100-request window differ by whole traces.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from tracelab.bench.workload import JOURNEYS, Account, Request, build_request


@dataclass(frozen=True)
class PlannedRequest:
    """A request of the plan and whether its trace is sampled."""

    request: Request
    sampled: bool


def sampled_flags(count: int, probability: float) -> list[bool]:
    """Which of ``count`` requests are sampled at ``probability``, spread evenly."""
    if not 0 <= probability <= 1:
        raise ValueError("a sampling probability is in [0, 1]")
    return [math.floor((i + 1) * probability) > math.floor(i * probability) for i in range(count)]


def traceparent(rng: random.Random, sampled: bool) -> str:
    """A W3C ``traceparent`` with ids from ``rng`` (never zero) and the sampled flag."""
    trace_id = rng.getrandbits(128) | 1
    span_id = rng.getrandbits(64) | 1
    return f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"


def build_plan(
    count: int, accounts: list[Account], seed: int, probability: float
) -> list[PlannedRequest]:
    """``count`` requests: journeys by the mix's weights, accounts and ids from ``seed``."""
    rng = random.Random(seed)
    weights = [journey.weight for journey in JOURNEYS]
    flags = sampled_flags(count, probability)
    plan = []
    for sampled in flags:
        journey = rng.choices(range(len(JOURNEYS)), weights)[0]
        request = build_request(journey, rng.choice(accounts))
        request.headers["traceparent"] = traceparent(rng, sampled)
        plan.append(PlannedRequest(request, sampled))
    return plan
