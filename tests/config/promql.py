"""The PromQL queries Grafana keeps, read with the ``promql-parser`` package.

Grafana stores queries with its own macros in them; :func:`promql` puts
back what Grafana sends Prometheus, then :func:`read` walks the parsed
expression for what it needs to exist: every metric name, every label it
matches, groups or joins on, and literal label values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import promql_parser

# Grafana's interval macros stand where PromQL wants a duration.
_INTERVAL = re.compile(r"\$\{?__(?:rate_interval|interval|range)\}?")
# tracesToMetrics: Grafana replaces $__tags with the span's tags as matchers
# (the data source's "tags" mapping, checked on its own).
_TAGS = re.compile(r"\$\$?__tags\s*,?\s*")
# A template variable's query: label_values(series selector, label).
_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<expr>.*),\s*(?P<label>\w+)\s*\)\s*$", re.S)
_LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class Query:
    """What a query needs to exist: metric names, labels and label values."""

    metrics: frozenset[str]
    labels: frozenset[str]
    values: frozenset[tuple[str, str]]


def promql(query: str) -> tuple[str, set[str]]:
    """The PromQL Grafana sends for ``query``, and the labels its wrapper names.

    ``label_values(expr, label)`` (a variable's query) is ``expr`` plus the
    label; template variables inside quoted values stay as they are.
    """
    labels: set[str] = set()
    wrapped = _LABEL_VALUES.match(query)
    if wrapped:
        query = wrapped.group("expr")
        labels.add(wrapped.group("label"))
    return _TAGS.sub("", _INTERVAL.sub("1m", query)), labels


def read(query: str, legend: str = "") -> Query:
    """Metric names, label names and (label, literal value) pairs of a Grafana query.

    ``ValueError`` (from the parser) when the query is not PromQL.
    """
    expr, labels = promql(query)
    labels |= set(_LEGEND.findall(legend))
    metrics: set[str] = set()
    values: set[tuple[str, str]] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                metrics.add(node.name)
            groups = [node.matchers.matchers, *node.matchers.or_matchers]
            for matcher in (m for group in groups for m in group):
                if matcher.name == "__name__":
                    metrics.add(matcher.value)
                    continue
                labels.add(matcher.name)
                if matcher.op == promql_parser.MatchOp.Equal and "$" not in matcher.value:
                    values.add((matcher.name, matcher.value))
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier:
            labels.update(node.modifier.labels)
        elif isinstance(node, promql_parser.BinaryExpr) and node.modifier:
            if node.modifier.matching:
                labels.update(node.modifier.matching.labels)
            labels.update(node.modifier.group_labels)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return Query(frozenset(metrics), frozenset(labels), frozenset(values))
