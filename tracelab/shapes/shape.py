"""Golden trace shapes: the YAML format, its validation and its in-memory form.

The format is defined once, by the JSON Schema ``shape.schema.json`` beside
this module (draft 2020-12; every key has a description, and editors with a
YAML language server validate shape files against it). A shape file::

    description: what journey this is and what the shape guarantees
    single_trace: true             # every span shares one trace id
    overlap: [[id_a, id_b]]        # spans of node id_a overlap those of id_b
    root:                          # a node
      service: gateway
      name: GET /api/dashboard     # or name_regex: ^GET /api/
      kind: server
      attributes: {http.route: {regex: ^/api/}}
      children: [{id: id_a, count: {min: 1, max: 3}}, ...]

Loading validates the data against the schema with ``jsonschema`` and then
makes the checks a JSON Schema cannot express, in code here:

- node ids are unique across the whole tree (``uniqueItems`` only compares
  whole items of one array, not a key of nested objects);
- every ``overlap`` id names a node (a reference between two parts of the
  document; JSON Schema has no cross-reference keyword);
- a count range has ``min <= max`` (comparing two values of one instance needs
  ``$data``, which is not part of the standard).

Errors name the file and the path of the bad key, e.g.
``login.yaml: root.children[0].kind: expected one of server, ...``; a
schema's ``errorMessage`` (the keyword editors show too) replaces the
generic message of the keyword beside it. Regexes are compiled as Python
``re`` patterns (the schema's ``format: regex``, asserted here).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tracelab.shapes.values import ValueMatcher, build_value_matcher

SCHEMA_PATH = Path(__file__).with_name("shape.schema.json")
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
_VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
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


def _where(path: Iterable[str | int]) -> str:
    """``root.children[0].kind``: a JSON path as the shape's author reads it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top)"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _expected(types: str | list[str]) -> str:
    words = [_TYPE_WORDS[t] for t in ([types] if isinstance(types, str) else types)]
    return " or ".join(words)


_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "null": "null",
}


def _messages(error: jsonschema.ValidationError) -> Iterator[tuple[str, str]]:
    """(path, message) for one schema violation; ``errorMessage`` in the schema wins."""
    path, value = list(error.absolute_path), error.instance
    custom = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    if error.validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                yield _where([*path, key]), f"unknown key{hint}; allowed: {', '.join(allowed)}"
    elif error.validator == "required":
        for key in error.validator_value:
            if key not in value:
                yield _where([*path, key]), "required key is missing"
    elif custom:
        yield _where(path), custom
    elif error.validator == "type":
        yield _where(path), f"expected {_expected(error.validator_value)}, got {_show(value)}"
    elif error.validator == "enum":
        options = ", ".join(map(str, error.validator_value))
        yield _where(path), f"expected one of {options}, got {_show(value)}"
    elif error.validator == "format" and error.validator_value == "regex":
        yield _where(path), f"bad regex {value!r}: {error.cause}"
    elif error.validator == "minLength":
        yield _where(path), "must not be empty"
    elif error.validator == "minItems":
        yield _where(path), f"expected at least {error.validator_value} item(s), got {_show(value)}"
    elif error.validator == "minimum":
        yield _where(path), f"expected at least {error.validator_value}, got {_show(value)}"
    else:
        yield _where(path), error.message


def _schema_errors(data: Any) -> list[str]:
    """Every violation of shape.schema.json, in document path order, as ``path: message``."""
    errors = sorted(
        _VALIDATOR.iter_errors(data),
        key=lambda e: [f"{p:09d}" if isinstance(p, int) else p for p in e.absolute_path],
    )
    lines = [f"{path}: {message}" for error in errors for path, message in _messages(error)]
    return list(dict.fromkeys(lines))


def _count(raw: Any) -> Count:
    # JSON Schema's integers include 1.0, hence int().
    if not isinstance(raw, dict):
        return Count(int(raw), int(raw))
    high = raw.get("max")
    return Count(int(raw.get("min", 0)), None if high is None else int(high))


def _events(raw: list[Any]) -> tuple[EventSpec, ...]:
    return tuple(
        EventSpec(item)
        if isinstance(item, str)
        else EventSpec(item["name"], _matchers(item.get("attributes")))
        for item in raw
    )


def _matchers(raw: dict[str, Any] | None) -> tuple[tuple[str, ValueMatcher], ...]:
    return tuple((str(key), build_value_matcher(value)) for key, value in (raw or {}).items())


def _node(raw: dict[str, Any], path: str) -> Node:
    pattern = raw.get("name_regex")
    status_message = raw.get("status_message")
    children = raw.get("children") or []
    return Node(
        path=path,
        id=raw.get("id"),
        service=raw.get("service"),
        name=raw.get("name"),
        name_regex=re.compile(pattern) if pattern is not None else None,
        kind=raw.get("kind"),
        status=raw.get("status"),
        status_message=None if status_message is None else build_value_matcher(status_message),
        attributes=_matchers(raw.get("attributes")),
        absent_attributes=tuple(raw.get("absent_attributes", ())),
        events=_events(raw.get("events") or []),
        absent_events=tuple(raw.get("absent_events", ())),
        count=_count(raw["count"]) if "count" in raw else Count(),
        children=tuple(_node(child, f"{path}.children[{i}]") for i, child in enumerate(children)),
        ordered=raw.get("ordered", False),
        allow_extra_children=raw.get("allow_extra_children", False),
        concurrent_children=raw.get("concurrent_children", False),
        note=raw.get("note") or "",
    )


def _semantic_errors(root: Node, overlap: list[list[str]]) -> Iterator[tuple[str, str]]:
    """(path, message) for what the schema cannot say (see the module docstring)."""
    ids: set[str] = set()
    for node in root.walk():
        if node.count.max is not None and node.count.max < node.count.min:
            yield f"{node.path}.count", f"need min <= max, got {node.count.min} > {node.count.max}"
        if node.id is not None:
            if node.id in ids:
                yield f"{node.path}.id", f"duplicate id {node.id!r}"
            ids.add(node.id)
    known = ", ".join(sorted(ids)) or "none"
    for index, pair in enumerate(overlap):
        for node_id in pair:
            if node_id not in ids:
                yield f"overlap[{index}]", f"no node has id {node_id!r} (ids: {known})"


def parse_shape(data: Any, source: str = "<shape>", name: str = "shape") -> Shape:
    """Validate already-parsed YAML/JSON data and build a :class:`Shape`.

    :class:`ShapeError` lists every violation, one ``source: path: message`` a
    line: the schema's, else those of the checks a schema cannot make.
    """
    errors = _schema_errors(data)
    if not errors:
        root = _node(data["root"], "root")
        overlap = data.get("overlap") or []
        errors = [f"{path}: {message}" for path, message in _semantic_errors(root, overlap)]
    if errors:
        raise ShapeError("\n".join(f"{source}: {line}" for line in errors))
    return Shape(
        name=data.get("name") or name,
        root=root,
        description=(data.get("description") or "").strip(),
        source=source,
        single_trace=data.get("single_trace", False),
        allow_extra_roots=data.get("allow_extra_roots", False),
        absent_attributes=tuple(data.get("absent_attributes", ())),
        overlap=tuple((a, b) for a, b in overlap),
    )


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
