"""Just enough PromQL reading to cross-check queries against the metrics we emit."""

from __future__ import annotations

import re
from dataclasses import dataclass

_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
_METRIC = re.compile(r"\b(traces_[a-z0-9_]+)\b")
_LEGEND = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Grafana macros and template variables, replaced before the query is read.
_MACRO = re.compile(r"\$\$?__[a-z_]+|\$\{?[a-z_]+\}?")


@dataclass(frozen=True)
class Query:
    """What a query needs to exist: metric names, labels and label values."""

    metrics: frozenset[str]
    labels: frozenset[str]
    values: frozenset[tuple[str, str]]


def balanced(expr: str) -> bool:
    """Brackets nest properly and quotes close (outside quotes)."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    in_quote = False
    for char in expr:
        if char == '"':
            in_quote = not in_quote
        elif in_quote:
            continue
        elif char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return False
    return not stack and not in_quote


def read(expr: str, legend: str = "") -> Query:
    """Metric names, label names and (label, literal value) pairs of ``expr``."""
    plain = _MACRO.sub("", expr)
    labels = {m.group(1) for m in _MATCHER.finditer(plain)}
    for group in _GROUPING.finditer(plain):
        labels |= {label.strip() for label in group.group(1).split(",") if label.strip()}
    labels |= {m.group(1) for m in _LEGEND.finditer(legend)}
    labels.discard("le")  # histogram buckets: always there
    values = {
        (m.group(1), m.group(3))
        for m in _MATCHER.finditer(expr)
        if m.group(2) == "=" and "$" not in m.group(3)
    }
    return Query(frozenset(_METRIC.findall(plain)), frozenset(labels), frozenset(values))
