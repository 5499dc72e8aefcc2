"""Golden trace shapes: the YAML format, its validation and its in-memory form.

A shape file::

    description: what journey this is and what the shape guarantees
    single_trace: true             # every span shares one trace id
    allow_extra_roots: false       # default: the trace has exactly one root
    absent_attributes: [...]       # keys no span of the trace may carry
    overlap: [[id_a, id_b]]        # spans of node id_a overlap those of id_b
    root:                          # a node (below)

A node::

    id: fanout                     # optional label, for overlap and reports
    service: gateway               # resource service.name, exact
    name: GET /api/dashboard       # exact span name ...
    name_regex: ^GET /api/users/   # ... or a regex (re.search)
    kind: server                   # server|client|internal|producer|consumer
    status: unset                  # unset|ok|error
    status_message: {regex: token} # a value matcher (see tracelab.shapes.values)
    attributes: {key: matcher}     # required attributes
    absent_attributes: [key, ...]  # keys that must not be there; * is a wildcard
    events: [exception, {name: exception, attributes: {...}}]
    absent_events: [exception]
    count: 1 | {min: 1, max: 3}    # how many sibling spans this node stands for
    children: [node, ...]
    ordered: false                 # children in start-time order when true
    allow_extra_children: false    # unmatched child spans are an error
    concurrent_children: false     # when true, the children overlap pairwise in time
    note: free text for readers

Every key is optional except ``root``; a node without constraints matches any
span. Errors name the file and the path of the bad key, e.g.
``login.yaml: root.children[0].kind: ...``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tracelab.shapes.model import KINDS, STATUSES
from tracelab.shapes.values import ValueMatcher, parse_value_matcher

SHAPE_KEYS = (
    "name",
    "description",
    "single_trace",
    "allow_extra_roots",
    "absent_attributes",
    "overlap",
    "root",
)
NODE_KEYS = (
    "id",
    "service",
    "name",
    "name_regex",
    "kind",
    "status",
    "status_message",
    "attributes",
    "absent_attributes",
    "events",
    "absent_events",
    "count",
    "children",
    "ordered",
    "allow_extra_children",
    "concurrent_children",
    "note",
)


class ShapeError(ValueError):
    """A shape file that cannot be read or does not follow the format."""


@dataclass(frozen=True)
class Count:
    """How many sibling spans a node stands for: ``min`` to ``max`` (None: no limit)."""

    min: int = 1
    max: int | None = 1

    def allows(self, n: int) -> bool:
        """True when ``n`` spans are acceptable."""
        return n >= self.min and (self.max is None or n <= self.max)

    def describe(self) -> str:
        """``1``, ``2..4`` or ``1+``."""
        if self.max == self.min:
            return str(self.min)
        if self.max is None:
            return f"{self.min}+"
        return f"{self.min}..{self.max}"


@dataclass(frozen=True)
class EventSpec:
    """An event the span must have: a name and optional attribute matchers."""

    name: str
    attributes: tuple[tuple[str, ValueMatcher], ...] = ()

    def describe(self) -> str:
        """The event as it reads in a report."""
        if not self.attributes:
            return self.name
        attrs = ", ".join(f"{key}={m.describe()}" for key, m in self.attributes)
        return f"{self.name}{{{attrs}}}"


@dataclass(frozen=True, eq=False)
class Node:
    """One expected span and, recursively, its expected children."""

    path: str
    id: str | None = None
    service: str | None = None
    name: str | None = None
    name_regex: re.Pattern[str] | None = None
    kind: str | None = None
    status: str | None = None
    status_message: ValueMatcher | None = None
    attributes: tuple[tuple[str, ValueMatcher], ...] = ()
    absent_attributes: tuple[str, ...] = ()
    events: tuple[EventSpec, ...] = ()
    absent_events: tuple[str, ...] = ()
    count: Count = Count()
    children: tuple[Node, ...] = ()
    ordered: bool = False
    allow_extra_children: bool = False
    concurrent_children: bool = False
    note: str = ""

    def name_text(self) -> str:
        """The expected name: ``'exact'``, ``re'regex'`` or ``*``."""
        if self.name is not None:
            return repr(self.name)
        if self.name_regex is not None:
            return f"re'{self.name_regex.pattern}'"
        return "*"

    def label(self) -> str:
        """Short node label for reports: its id, else service and name."""
        if self.id:
            return self.id
        return f"{self.service or '*'} {self.name_text()}"

    def walk(self) -> Iterator[Node]:
        """This node and every descendant, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, eq=False)
class Shape:
    """A whole golden shape."""

    name: str
    root: Node
    description: str = ""
    source: str = "<shape>"
    single_trace: bool = False
    allow_extra_roots: bool = False
    absent_attributes: tuple[str, ...] = ()
    overlap: tuple[tuple[str, str], ...] = ()

    def nodes(self) -> list[Node]:
        """Every node, depth first from the root."""
        return list(self.root.walk())

    def node(self, node_id: str) -> Node:
        """The node with this ``id`` (KeyError when there is none)."""
        for node in self.root.walk():
            if node.id == node_id:
                return node
        raise KeyError(node_id)


class _Reader:
    """Validation helpers that know the file they read, for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> ShapeError:
        return ShapeError(f"{self.source}: {path}: {message}")

    def mapping(self, raw: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.fail(path, f"expected a mapping, got {type(raw).__name__}")
        for key in raw:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.fail(
                    f"{path}.{key}", f"unknown key{hint}; allowed: {', '.join(allowed)}"
                )
        return raw

    def string(self, raw: dict[str, Any], key: str, path: str) -> str | None:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(f"{path}.{key}", f"expected a string, got {value!r}")
        return value

    def flag(self, raw: dict[str, Any], key: str, path: str, default: bool = False) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{path}.{key}", f"expected true or false, got {value!r}")
        return value

    def choice(
        self, raw: dict[str, Any], key: str, path: str, options: tuple[str, ...]
    ) -> str | None:
        value = raw.get(key)
        if value is not None and value not in options:
            raise self.fail(f"{path}.{key}", f"expected one of {', '.join(options)}, got {value!r}")
        return value

    def strings(self, raw: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{path}.{key}", f"expected a list of strings, got {value!r}")
        return tuple(value)

    def matchers(self, raw: Any, path: str) -> tuple[tuple[str, ValueMatcher], ...]:
        if raw is None:
            return ()
        if not isinstance(raw, dict):
            raise self.fail(path, f"expected a mapping of key: value, got {raw!r}")
        result = []
        for key, value in raw.items():
            try:
                result.append((str(key), parse_value_matcher(value)))
            except ValueError as exc:
                raise self.fail(f"{path}.{key}", str(exc)) from None
        return tuple(result)

    def count(self, raw: Any, path: str) -> Count:
        if isinstance(raw, int) and not isinstance(raw, bool):
            if raw < 1:
                raise self.fail(
                    path, "an exact count must be at least 1 (use {min: 0} for optional)"
                )
            return Count(raw, raw)
        if isinstance(raw, dict):
            self.mapping(raw, path, ("min", "max"))
            low, high = raw.get("min", 0), raw.get("max")
            low = 0 if low is None else low
            for key, value in (("min", low), ("max", high)):
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    raise self.fail(f"{path}.{key}", f"expected an integer, got {value!r}")
            if low < 0 or (high is not None and (high < 1 or high < low)):
                raise self.fail(path, f"need 0 <= min <= max and max >= 1, got {raw!r}")
            return Count(low, high)
        raise self.fail(path, f"expected an integer or {{min, max}}, got {raw!r}")

    def events(self, raw: Any, path: str) -> tuple[EventSpec, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise self.fail(path, f"expected a list of event names or mappings, got {raw!r}")
        result = []
        for index, item in enumerate(raw):
            where = f"{path}[{index}]"
            if isinstance(item, str):
                result.append(EventSpec(item))
                continue
            item = self.mapping(item, where, ("name", "attributes"))
            name = self.string(item, "name", where)
            if not name:
                raise self.fail(f"{where}.name", "an event needs a name")
            attributes = self.matchers(item.get("attributes"), f"{where}.attributes")
            result.append(EventSpec(name, attributes))
        return tuple(result)

    def node(self, raw: Any, path: str) -> Node:
        raw = self.mapping(raw, path, NODE_KEYS)
        if "name" in raw and "name_regex" in raw:
            raise self.fail(f"{path}.name_regex", "give either name or name_regex, not both")
        name_regex = None
        pattern = self.string(raw, "name_regex", path)
        if pattern is not None:
            try:
                name_regex = re.compile(pattern)
            except re.error as exc:
                raise self.fail(f"{path}.name_regex", f"bad regex {pattern!r}: {exc}") from None
        status_message = None
        if "status_message" in raw:
            try:
                status_message = parse_value_matcher(raw["status_message"])
            except ValueError as exc:
                raise self.fail(f"{path}.status_message", str(exc)) from None
        children_raw = raw.get("children") or []
        if not isinstance(children_raw, list):
            raise self.fail(f"{path}.children", f"expected a list of nodes, got {children_raw!r}")
        return Node(
            path=path,
            id=self.string(raw, "id", path),
            service=self.string(raw, "service", path),
            name=self.string(raw, "name", path),
            name_regex=name_regex,
            kind=self.choice(raw, "kind", path, KINDS),
            status=self.choice(raw, "status", path, STATUSES),
            status_message=status_message,
            attributes=self.matchers(raw.get("attributes"), f"{path}.attributes"),
            absent_attributes=self.strings(raw, "absent_attributes", path),
            events=self.events(raw.get("events"), f"{path}.events"),
            absent_events=self.strings(raw, "absent_events", path),
            count=self.count(raw["count"], f"{path}.count") if "count" in raw else Count(),
            children=tuple(
                self.node(child, f"{path}.children[{i}]") for i, child in enumerate(children_raw)
            ),
            ordered=self.flag(raw, "ordered", path),
            allow_extra_children=self.flag(raw, "allow_extra_children", path),
            concurrent_children=self.flag(raw, "concurrent_children", path),
            note=self.string(raw, "note", path) or "",
        )

    def overlap(self, raw: Any, ids: set[str]) -> tuple[tuple[str, str], ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise self.fail("overlap", f"expected a list of [id, id] pairs, got {raw!r}")
        pairs = []
        for index, pair in enumerate(raw):
            where = f"overlap[{index}]"
            if not (isinstance(pair, list) and len(pair) == 2):
                raise self.fail(where, f"expected a pair [id, id], got {pair!r}")
            for node_id in pair:
                if node_id not in ids:
                    known = ", ".join(sorted(ids)) or "none"
                    raise self.fail(where, f"no node has id {node_id!r} (ids: {known})")
            pairs.append((pair[0], pair[1]))
        return tuple(pairs)

    def shape(self, raw: Any, default_name: str) -> Shape:
        raw = self.mapping(raw, "(top)", SHAPE_KEYS)
        if "root" not in raw:
            raise self.fail("root", "missing: a shape needs a root node")
        root = self.node(raw["root"], "root")
        if "count" in raw["root"]:
            raise self.fail("root.count", "the root stands for one span; count is not allowed")
        ids: set[str] = set()
        for node in root.walk():
            if node.id is not None:
                if node.id in ids:
                    raise self.fail(f"{node.path}.id", f"duplicate id {node.id!r}")
                ids.add(node.id)
        return Shape(
            name=self.string(raw, "name", "(top)") or default_name,
            root=root,
            description=(self.string(raw, "description", "(top)") or "").strip(),
            source=self.source,
            single_trace=self.flag(raw, "single_trace", "(top)"),
            allow_extra_roots=self.flag(raw, "allow_extra_roots", "(top)"),
            absent_attributes=self.strings(raw, "absent_attributes", "(top)"),
            overlap=self.overlap(raw.get("overlap"), ids),
        )


def parse_shape(data: Any, source: str = "<shape>", name: str = "shape") -> Shape:
    """Validate already-parsed YAML/JSON data and build a :class:`Shape`."""
    return _Reader(source).shape(data, name)


def load_shape_text(text: str, source: str = "<shape>", name: str = "shape") -> Shape:
    """Parse a shape from YAML text; ``source`` names it in error messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(top)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ShapeError(f"{source}: {where}: invalid YAML: {problem}") from None
    return parse_shape(data, source, name)


def load_shape(path: str | Path) -> Shape:
    """Read and validate a shape file; :class:`ShapeError` names the file and the bad key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ShapeError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return load_shape_text(text, str(path), path.stem)
