"""Paired statistics: each configuration against tracing-off, round by round.

Rounds are interleaved (A B C D E, A B C D E, ...), so configuration X and
the baseline of the same round ran minutes apart under the same machine
conditions. The overhead of X in round r is ``d_r = m(X, r) - m(off, r)``;
its mean over rounds gets a 95% confidence interval from the t distribution
with n - 1 degrees of freedom: ``mean(d) ± t(0.975, n-1) · sd(d) / sqrt(n)``.
Relative overheads use ``100 · d_r / m(off, r)`` per round, the same way.
Only rounds where both runs are valid are paired.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats as scipy_stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """Mean of paired differences with the half-width of its confidence interval."""

    n: int
    mean: float
    half_width: float | None  # None with fewer than two pairs
    sd: float | None

    @property
    def low(self) -> float | None:
        """Lower bound of the interval."""
        return None if self.half_width is None else self.mean - self.half_width

    @property
    def high(self) -> float | None:
        """Upper bound of the interval."""
        return None if self.half_width is None else self.mean + self.half_width


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean and t-based confidence half-width of ``values`` (NaNs are dropped)."""
    clean = [v for v in values if not math.isnan(v)]
    n = len(clean)
    if n == 0:
        return Interval(0, float("nan"), None, None)
    mean = math.fsum(clean) / n
    if n < 2:
        return Interval(n, mean, None, None)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in clean) / (n - 1))
    t_crit = float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1))
    return Interval(n, mean, t_crit * sd / math.sqrt(n), sd)


def paired_differences(
    treated: Sequence[float], baseline: Sequence[float], *, relative: bool = False
) -> list[float]:
    """Per-round differences (in percent of the baseline when ``relative``)."""
    if len(treated) != len(baseline):
        raise ValueError("paired samples must have the same length")
    diffs = []
    for x, b in zip(treated, baseline, strict=True):
        if relative:
            diffs.append(100.0 * (x - b) / b if b else float("nan"))
        else:
            diffs.append(x - b)
    return diffs


@dataclass(frozen=True)
class Overhead:
    """The overhead of one configuration on one metric, absolute and relative."""

    metric: str
    baseline_mean: float
    absolute: Interval
    relative: Interval


def overhead(metric: str, treated: Sequence[float], baseline: Sequence[float]) -> Overhead:
    """Paired absolute and relative overhead of ``treated`` over ``baseline``."""
    clean_baseline = [b for b in baseline if not math.isnan(b)]
    base_mean = math.fsum(clean_baseline) / len(clean_baseline) if clean_baseline else math.nan
    return Overhead(
        metric=metric,
        baseline_mean=base_mean,
        absolute=t_interval(paired_differences(treated, baseline)),
        relative=t_interval(paired_differences(treated, baseline, relative=True)),
    )
