"""Match a backend-neutral :class:`Trace` against a golden :class:`Shape`.

The shape's root must fit a root span of the trace; a node fits a span when
the span passes the node's own checks and the span's children can be
assigned to the node's children (counts, order, extras, concurrency) with
every assigned child fitting its node, recursively. Unordered children are
assigned by exact bipartite matching (see :mod:`tracelab.shapes.assign`).

When the trace does not fit, the result explains why: for the root and,
recursively, for the closest actual span of every expected node that found
no fitting span, it lists what was expected and what was found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

from tracelab.shapes.assign import assign_ordered, assign_unordered, best_effort_unordered
from tracelab.shapes.checks import absent_key_hits, distance, plausible, span_problems
from tracelab.shapes.model import Span, Trace, span_key
from tracelab.shapes.shape import Node, Shape


@dataclass(frozen=True)
class Mismatch:
    """One difference between the shape and the trace."""

    where: str
    what: str
    expected: str
    found: str
    span: Span | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.what}: expected {self.expected}, found {self.found}"


@dataclass
class MatchResult:
    """The outcome of :func:`match`: ``ok``, the mismatches and the matched spans."""

    shape: Shape
    trace: Trace
    mismatches: list[Mismatch] = field(default_factory=list)
    matched: dict[Node, list[Span]] = field(default_factory=dict)
    # When the trace does not fit: the span each diagnosed node was compared with,
    # and the spans of subtrees that do fit below a node that does not.
    compared: dict[Node, Span] = field(default_factory=dict)
    partial: dict[Node, list[Span]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the trace has the shape."""
        return not self.mismatches

    def __bool__(self) -> bool:
        return self.ok

    def spans_for(self, node_id: str) -> list[Span]:
        """The spans matched by the node with this ``id`` (empty when the tree did not fit)."""
        return list(self.matched.get(self.shape.node(node_id), ()))

    def report(self) -> str:
        """A readable report: mismatches, expected tree and actual tree."""
        from tracelab.shapes.render import render_report

        return render_report(self)


def where(node: Node) -> str:
    """How a node is named in mismatch lines: service, name, id and its path in the file."""
    label = f"{node.service or '*'} {node.name_text()}"
    if node.id:
        label += f" #{node.id}"
    return f"{label} [{node.path}]"


def _timing(span: Span, origin: int) -> str:
    start = (span.start_ns - origin) / 1e6
    return f"{span.service} {span.name!r} @ {start:+.1f}..{start + span.duration_ms:.1f} ms"


def _disjoint_pairs(spans: list[Span]) -> list[tuple[Span, Span]]:
    return [(a, b) for a, b in combinations(spans, 2) if not a.overlaps(b)]


class _Matcher:
    """Memoised node-to-span fitting over one trace."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.compared: dict[Node, Span] = {}
        self.partial: dict[Node, list[Span]] = {}
        self.origin = min((span.start_ns for span in trace.spans), default=0)
        self._fits: dict[tuple[int, str, str], bool] = {}
        self._structures: dict[tuple[int, str, str], list[list[Span]] | None] = {}

    def fits(self, node: Node, span: Span) -> bool:
        """True when ``span`` and its subtree have the shape of ``node``."""
        key = (id(node), *span_key(span))
        if key not in self._fits:
            self._fits[key] = not span_problems(node, span) and self.assign(node, span) is not None
        return self._fits[key]

    def structure(self, node: Node, span: Span) -> list[list[Span]] | None:
        """Actual children per expected child, ignoring concurrency; None when impossible."""
        key = (id(node), *span_key(span))
        if key not in self._structures:
            actual = self.trace.children_of(span)
            fits = [[self.fits(child, a) for a in actual] for child in node.children]
            bounds = [(child.count.min, child.count.max) for child in node.children]
            solve = assign_ordered if node.ordered else assign_unordered
            groups = solve(fits, bounds, len(actual), node.allow_extra_children)
            self._structures[key] = (
                None if groups is None else [[actual[j] for j in group] for group in groups]
            )
        return self._structures[key]

    def assign(self, node: Node, span: Span) -> list[list[Span]] | None:
        """Like :meth:`structure`, also requiring concurrent children when the node says so."""
        groups = self.structure(node, span)
        if (
            groups is not None
            and node.concurrent_children
            and _disjoint_pairs([s for group in groups for s in group])
        ):
            return None
        return groups

    def witness(self, node: Node, span: Span, out: dict[Node, list[Span]]) -> None:
        """Record which span every node matched (call only when ``fits`` is true)."""
        out.setdefault(node, []).append(span)
        groups = self.assign(node, span) or []
        for child, spans in zip(node.children, groups, strict=True):
            for child_span in spans:
                self.witness(child, child_span, out)

    def closest(self, node: Node, spans: list[Span], plausible_only: bool) -> Span | None:
        """The span that is most nearly ``node`` (None when none is plausibly it)."""
        best: tuple[int, Span] | None = None
        for span in spans:
            if plausible_only and not plausible(node, span):
                continue
            score = 0 if self.fits(node, span) else distance(node, span)
            if best is None or score < best[0]:
                best = (score, span)
        return best[1] if best else None

    def diagnose(self, node: Node, span: Span) -> list[Mismatch]:
        """Why ``span`` does not have the shape of ``node``."""
        self.compared.setdefault(node, span)
        out = [
            Mismatch(where(node), p.what, p.expected, p.found, span)
            for p in span_problems(node, span)
        ]
        return out + self._diagnose_children(node, span)

    def _diagnose_children(self, node: Node, span: Span) -> list[Mismatch]:
        groups = self.structure(node, span)
        if groups is not None:
            for child, child_spans in zip(node.children, groups, strict=True):
                for child_span in child_spans:
                    self.witness(child, child_span, self.partial)
            pairs = (
                _disjoint_pairs([s for g in groups for s in g]) if node.concurrent_children else []
            )
            found = "; ".join(
                f"{_timing(a, self.origin)} and {_timing(b, self.origin)} do not overlap"
                for a, b in pairs
            )
            return (
                [Mismatch(where(node), "concurrent children", "children overlapping", found, span)]
                if pairs
                else []
            )
        actual = self.trace.children_of(span)
        fits = [[self.fits(child, a) for a in actual] for child in node.children]
        bounds = [(child.count.min, child.count.max) for child in node.children]
        best = best_effort_unordered(fits, bounds, len(actual))
        used = {j for group in best for j in group}
        for i, child in enumerate(node.children):
            for j in best[i]:
                if fits[i][j]:
                    self.witness(child, actual[j], self.partial)
        out: list[Mismatch] = []
        if not node.allow_extra_children:
            out += self._too_many(node, actual, fits, best, used)
        out += self._missing(node, span, actual, best, used)
        if not node.allow_extra_children:
            out += [
                Mismatch(where(node), "unexpected child", "no further child", a.summary(), a)
                for j, a in enumerate(actual)
                if j not in used
            ]
        if not out and node.ordered:
            expected = " then ".join(child.label() for child in node.children)
            found = " then ".join(f"{a.service} {a.name!r}" for a in actual)
            out.append(Mismatch(where(node), "child order", expected, found, span))
        if not out:
            out.append(Mismatch(where(node), "children", "an assignment", "none", span))
        return out

    def _too_many(
        self,
        node: Node,
        actual: list[Span],
        fits: list[list[bool]],
        best: list[list[int]],
        used: set[int],
    ) -> list[Mismatch]:
        """Expected children that more spans fit than their count allows."""
        out = []
        for i, child in enumerate(node.children):
            surplus = [j for j, a in enumerate(actual) if j not in used and fits[i][j]]
            if surplus:
                used.update(surplus)
                found = f"{len(best[i]) + len(surplus)} span(s)"
                out.append(
                    Mismatch(
                        where(child), "count", child.count.describe(), found, actual[surplus[0]]
                    )
                )
        return out

    def _missing(
        self,
        node: Node,
        span: Span,
        actual: list[Span],
        best: list[list[int]],
        used: set[int],
    ) -> list[Mismatch]:
        """Expected children short of spans: explain the closest span, else report it missing."""
        out = []
        for i, child in enumerate(node.children):
            for _ in range(child.count.min - len(best[i])):
                free = [a for j, a in enumerate(actual) if j not in used]
                near = self.closest(child, free, plausible_only=True)
                if near is None:
                    expected = f"{child.count.describe()} span(s) [{child.kind or '*'}]"
                    found = f"{len(best[i])} under {span.service} {span.name!r}"
                    out.append(Mismatch(where(child), "missing", expected, found, span))
                    break
                used.add(actual.index(near))
                out += self.diagnose(child, near)
        return out


def _root_mismatches(shape: Shape, matcher: _Matcher, result: MatchResult) -> None:
    trace = result.trace
    roots = trace.roots()
    chosen = next((r for r in roots if matcher.fits(shape.root, r)), None)
    if chosen is not None:
        matcher.witness(shape.root, chosen, result.matched)
    else:
        chosen = matcher.closest(shape.root, roots, plausible_only=False)
        assert chosen is not None
        result.mismatches += matcher.diagnose(shape.root, chosen)
    if len(roots) > 1 and not shape.allow_extra_roots:
        others = "; ".join(
            f"{r.summary()} (parent {r.parent_span_id or 'none'} not in trace)"
            for r in roots
            if r is not chosen
        )
        result.mismatches.append(
            Mismatch("trace", "roots", "one root span", f"{len(roots)} roots; also {others}")
        )


def _overlap_mismatches(shape: Shape, matcher: _Matcher, result: MatchResult) -> None:
    # Where the whole tree does not fit, the subtrees that do still get checked.
    found = result.matched or matcher.partial
    if not found:
        return
    for a_id, b_id in shape.overlap:
        for a in found.get(shape.node(a_id), ()):
            for b in found.get(shape.node(b_id), ()):
                if not a.overlaps(b):
                    first, second = _timing(a, matcher.origin), _timing(b, matcher.origin)
                    found = f"{first} and {second} are disjoint"
                    result.mismatches.append(
                        Mismatch(f"overlap [{a_id}, {b_id}]", "time", "overlapping spans", found, a)
                    )


def _trace_mismatches(shape: Shape, result: MatchResult) -> None:
    trace = result.trace
    if shape.single_trace and len(trace.trace_ids) > 1:
        ids = ", ".join(sorted(trace.trace_ids))
        result.mismatches.append(Mismatch("trace", "trace ids", "one trace id", ids))
    for span in trace.spans:
        for pattern, keys in absent_key_hits(span, shape.absent_attributes):
            result.mismatches.append(
                Mismatch(
                    "trace",
                    f"absent attribute {pattern}",
                    "absent on every span",
                    f"{', '.join(keys)} on {span.summary()}",
                    span,
                )
            )


def match(shape: Shape, trace: Trace) -> MatchResult:
    """Match ``trace`` against ``shape``; the result's ``report()`` explains any mismatch."""
    result = MatchResult(shape, trace)
    if not trace.spans:
        result.mismatches.append(Mismatch("trace", "spans", "a trace with spans", "no spans"))
        return result
    matcher = _Matcher(trace)
    _root_mismatches(shape, matcher, result)
    _overlap_mismatches(shape, matcher, result)
    _trace_mismatches(shape, result)
    result.compared = matcher.compared
    result.partial = matcher.partial
    return result


def assert_matches(shape: Shape, trace: Trace) -> MatchResult:
    """Match and raise ``AssertionError`` carrying the report when the trace differs."""
    result = match(shape, trace)
    if not result.ok:
        raise AssertionError(result.report())
    return result
