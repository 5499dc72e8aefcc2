"""Assigning actual child spans to expected child nodes.

Each expected node ``i`` must receive between ``low[i]`` and ``high[i]``
(None: no limit) actual children it fits, each actual child goes to at most
one node, and, unless extras are allowed, every actual child goes to some
node. ``fits[i][j]`` says whether actual child ``j`` fits node ``i``.

Unordered: a bipartite b-matching, solved exactly with augmenting paths
(Kuhn's algorithm over the nodes' "slots"), so a child that fits two nodes
never starves the second one the way a greedy first match would.
Ordered: the children, in start-time order, are consecutive runs per node
(extras may sit between runs when allowed), solved by dynamic programming.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

Fits = Sequence[Sequence[bool]]
Bounds = Sequence[tuple[int, int | None]]


def _augment(node: int, fits: Fits, owner: list[int], seen: set[int]) -> bool:
    """Find an actual child for one more slot of ``node``, moving others if needed."""
    for child, ok in enumerate(fits[node]):
        if not ok or child in seen:
            continue
        seen.add(child)
        if owner[child] == -1 or _augment(owner[child], fits, owner, seen):
            owner[child] = node
            return True
    return False


def _fill(fits: Fits, bounds: Bounds, n_children: int, strict: bool) -> list[int] | None:
    """Owner node per child (-1: none): every lower bound first, then up to the upper ones."""
    owner = [-1] * n_children
    for node, (low, _) in enumerate(bounds):
        for _ in range(low):
            if not _augment(node, fits, owner, set()) and strict:
                return None
    for node, (_, high) in enumerate(bounds):
        load = sum(1 for o in owner if o == node)
        while (high is None or load < high) and _augment(node, fits, owner, set()):
            load += 1
    return owner


def _groups(owner: list[int], n_nodes: int) -> list[list[int]]:
    result: list[list[int]] = [[] for _ in range(n_nodes)]
    for child, node in enumerate(owner):
        if node != -1:
            result[node].append(child)
    return result


def assign_unordered(
    fits: Fits, bounds: Bounds, n_children: int, allow_extra: bool
) -> list[list[int]] | None:
    """Children per node (indices), or None when no valid assignment exists."""
    owner = _fill(fits, bounds, n_children, strict=True)
    if owner is None or (not allow_extra and -1 in owner):
        return None
    return _groups(owner, len(bounds))


def best_effort_unordered(fits: Fits, bounds: Bounds, n_children: int) -> list[list[int]]:
    """A largest assignment filling as many lower bounds as possible (to explain failures).

    Never None: nodes may stay below their lower bound and children unassigned.
    """
    owner = _fill(fits, bounds, n_children, strict=False)
    assert owner is not None  # not strict: always an answer
    return _groups(owner, len(bounds))


def assign_ordered(
    fits: Fits, bounds: Bounds, n_children: int, allow_extra: bool
) -> list[list[int]] | None:
    """Children per node when node ``i``'s run must come before node ``i+1``'s."""
    n_nodes = len(bounds)

    @cache
    def solve(node: int, child: int) -> tuple[tuple[int, int], ...] | None:
        # (first child, run length) per remaining node, or None when impossible.
        if node == n_nodes:
            return () if child == n_children or allow_extra else None
        low, high = bounds[node]
        longest = 0
        while (high is None or longest < high) and child + longest < n_children:
            if not fits[node][child + longest]:
                break
            longest += 1
        for run in range(longest, low - 1, -1):
            rest = solve(node + 1, child + run)
            if rest is not None:
                return ((child, run), *rest)
        if allow_extra and child < n_children:
            return solve(node, child + 1)  # leave this child as an extra
        return None

    runs = solve(0, 0)
    solve.cache_clear()
    if runs is None:
        return None
    return [list(range(first, first + length)) for first, length in runs]
