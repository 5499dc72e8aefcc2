"""The child-assignment algorithms on their own."""

from __future__ import annotations

from tracelab.shapes.assign import assign_ordered, assign_unordered, best_effort_unordered

T, F = True, False


def test_unordered_reassigns_instead_of_failing_greedily():
    # Node 0 fits children 0 and 1; node 1 fits only child 0. A greedy pass
    # would give child 0 to node 0 and fail node 1.
    fits = [[T, T], [T, F]]
    assert assign_unordered(fits, [(1, 1), (1, 1)], 2, allow_extra=False) == [[1], [0]]


def test_unordered_long_augmenting_chain():
    n = 6
    # Node i fits children i and i+1 (node n-1 only child n-1): a chain of moves.
    fits = [[j in (i, i + 1) for j in range(n)] for i in range(n - 1)] + [
        [j == 0 for j in range(n)]
    ]
    result = assign_unordered(fits, [(1, 1)] * n, n, allow_extra=False)
    assert result is not None
    assert sorted(j for group in result for j in group) == list(range(n))
    assert result[-1] == [0]


def test_unordered_counts_and_extras():
    fits = [[T, T, T, F]]
    assert assign_unordered(fits, [(2, 3)], 4, allow_extra=False) is None  # child 3 fits nothing
    assert assign_unordered(fits, [(2, 3)], 4, allow_extra=True) == [[0, 1, 2]]
    assert assign_unordered(fits, [(4, None)], 4, allow_extra=True) is None


def test_upper_bounds_respected_when_min_satisfied_elsewhere():
    # Node 0 {0..1} and node 1 {exactly 2}; all children fit both.
    fits = [[T, T, T], [T, T, T]]
    result = assign_unordered(fits, [(0, 1), (2, 2)], 3, allow_extra=False)
    assert result is not None and len(result[0]) == 1 and len(result[1]) == 2


def test_best_effort_prefers_filling_lower_bounds():
    fits = [[T, T], [F, T]]
    # Node 0 may take both, but node 1 needs child 1: best effort keeps node 1 filled.
    assert best_effort_unordered(fits, [(0, 2), (1, 1)], 2) == [[0], [1]]
    assert best_effort_unordered([[F, F]], [(1, 1)], 2) == [[]]


def test_ordered_runs():
    # Expected a, b x2, c over children a b b c.
    fits = [[T, F, F, F], [F, T, T, F], [F, F, F, T]]
    assert assign_ordered(fits, [(1, 1), (2, 2), (1, 1)], 4, allow_extra=False) == [
        [0],
        [1, 2],
        [3],
    ]
    # Reversed expectation fails.
    assert assign_ordered(fits[::-1], [(1, 1), (2, 2), (1, 1)], 4, allow_extra=False) is None


def test_ordered_with_extras_skips_children_between_runs():
    # Children: a x b; expected a then b.
    fits = [[T, F, F], [F, F, T]]
    assert assign_ordered(fits, [(1, 1), (1, 1)], 3, allow_extra=False) is None
    assert assign_ordered(fits, [(1, 1), (1, 1)], 3, allow_extra=True) == [[0], [2]]


def test_ordered_range_backtracks_on_run_length():
    # Node 0 {1..3} fits all three children, node 1 needs the last one.
    fits = [[T, T, T], [F, F, T]]
    assert assign_ordered(fits, [(1, 3), (1, 1)], 3, allow_extra=False) == [[0, 1], [2]]
