import math

import pytest
from scipy import stats as scipy_stats

from tracelab.bench.stats import overhead, paired_differences, t_interval


def test_t_interval_matches_the_textbook_formula():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    interval = t_interval(values)
    sd = math.sqrt(2.5)
    expected_half = scipy_stats.t.ppf(0.975, 4) * sd / math.sqrt(5)
    assert interval.n == 5
    assert interval.mean == pytest.approx(3.0)
    assert interval.sd == pytest.approx(sd)
    assert interval.half_width == pytest.approx(expected_half)
    assert interval.half_width == pytest.approx(1.9632, abs=1e-4)
    assert interval.low == pytest.approx(3.0 - expected_half)
    assert interval.high == pytest.approx(3.0 + expected_half)


def test_t_interval_of_identical_values_has_zero_width():
    interval = t_interval([2.5, 2.5, 2.5])
    assert interval.mean == 2.5
    assert interval.half_width == 0.0


def test_one_value_has_no_interval_and_nans_are_dropped():
    single = t_interval([4.0, float("nan")])
    assert single.n == 1 and single.mean == 4.0
    assert single.half_width is None and single.low is None and single.high is None
    empty = t_interval([])
    assert empty.n == 0 and math.isnan(empty.mean)


def test_paired_differences_absolute_and_relative():
    assert paired_differences([11.0, 22.0], [10.0, 20.0]) == [1.0, 2.0]
    assert paired_differences([11.0, 22.0], [10.0, 20.0], relative=True) == pytest.approx(
        [10.0, 10.0]
    )
    relative_to_zero = paired_differences([1.0], [0.0], relative=True)
    assert math.isnan(relative_to_zero[0])
    with pytest.raises(ValueError):
        paired_differences([1.0], [1.0, 2.0])


def test_pairing_removes_drift_shared_by_both_series():
    # The baseline drifts a lot between rounds; the treated series is always +1.
    baseline = [10.0, 20.0, 30.0, 40.0]
    treated = [b + 1.0 for b in baseline]
    result = overhead("cpu", treated, baseline)
    assert result.absolute.mean == pytest.approx(1.0)
    assert result.absolute.half_width == pytest.approx(0.0)
    assert result.baseline_mean == pytest.approx(25.0)
    # An unpaired comparison of the same numbers could not tell +1 from noise.
    unpaired_sd = t_interval(baseline).sd
    assert unpaired_sd is not None and unpaired_sd > 10
