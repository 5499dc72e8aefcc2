"""Checks of one span against one shape node, ignoring the node's children."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from tracelab.shapes.model import Span
from tracelab.shapes.shape import EventSpec, Node
from tracelab.shapes.values import MISSING, show

# How much a failed check counts when choosing the closest span to explain a failure.
WEIGHTS = {"service": 4, "name": 3, "kind": 2}


@dataclass(frozen=True)
class Problem:
    """One failed check: what was checked, expected and found."""

    what: str
    expected: str
    found: str

    @property
    def weight(self) -> int:
        """How far off this makes the span (see :data:`WEIGHTS`)."""
        return WEIGHTS.get(self.what, 1)


def absent_key_hits(span: Span, patterns: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """Per pattern (``*`` wildcards) the attribute keys of ``span`` it forbids and are there."""
    hits = []
    for pattern in patterns:
        keys = sorted(key for key in span.attributes if fnmatchcase(key, pattern))
        if keys:
            hits.append((pattern, keys))
    return hits


def _event_found(span: Span, spec: EventSpec) -> bool:
    return any(
        event.name == spec.name
        and all(m.check(event.attributes.get(key, MISSING)) for key, m in spec.attributes)
        for event in span.events
    )


def _identity(node: Node, span: Span) -> list[Problem]:
    problems = []
    if node.service is not None and span.service != node.service:
        problems.append(Problem("service", repr(node.service), repr(span.service)))
    name_ok = (node.name is None or span.name == node.name) and (
        node.name_regex is None or node.name_regex.search(span.name) is not None
    )
    if not name_ok:
        problems.append(Problem("name", node.name_text(), repr(span.name)))
    if node.kind is not None and span.kind != node.kind:
        problems.append(Problem("kind", node.kind, span.kind))
    if node.status is not None and span.status != node.status:
        found = span.status + (f" ({span.status_message!r})" if span.status_message else "")
        problems.append(Problem("status", node.status, found))
    message = span.status_message or MISSING
    if node.status_message is not None and not node.status_message.check(message):
        problems.append(Problem("status_message", node.status_message.describe(), show(message)))
    return problems


def _contents(node: Node, span: Span) -> list[Problem]:
    problems = []
    for key, matcher in node.attributes:
        actual = span.attributes.get(key, MISSING)
        if not matcher.check(actual):
            problems.append(Problem(f"attribute {key}", matcher.describe(), show(actual)))
    for pattern, keys in absent_key_hits(span, node.absent_attributes):
        # Only the keys: the values may be exactly the secrets the check guards.
        problems.append(
            Problem(f"absent attribute {pattern}", "absent", "present: " + ", ".join(keys))
        )
    for spec in node.events:
        if not _event_found(span, spec):
            names = ", ".join(span.event_names()) or "no events"
            problems.append(Problem("event", spec.describe(), names))
    for name in node.absent_events:
        count = span.event_names().count(name)
        if count:
            problems.append(Problem(f"absent event {name}", "no such event", f"{count} event(s)"))
    return problems


def span_problems(node: Node, span: Span) -> list[Problem]:
    """Everything about ``span`` itself that ``node`` rejects (children not included)."""
    return _identity(node, span) + _contents(node, span)


def distance(node: Node, span: Span) -> int:
    """The summed weight of the span's problems: 0 when the span itself fits."""
    return sum(problem.weight for problem in span_problems(node, span))


def plausible(node: Node, span: Span) -> bool:
    """False when both service and name differ: then the span is not "this node, but wrong"."""
    wrong = {problem.what for problem in _identity(node, span)}
    return not {"service", "name"} <= wrong
