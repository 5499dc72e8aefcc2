"""Value matchers: how a shape file says what an attribute (or status message) must be.

Syntax (YAML):

- a scalar or a list (``200``, ``POST``, ``true``, ``[a, b]``): equal to it.
  Booleans only equal booleans; ``200`` equals ``200.0``; strings never equal
  numbers.
- ``{present: true}``: the key is there, any value; ``{present: false}``: it
  is not.
- ``{regex: PATTERN}``: the value, as text, contains a match of PATTERN
  (Python ``re.search``; anchor with ``^``/``$`` for a whole match).
- ``{one_of: [A, B, ...]}``: equal to one of the listed values.
- ``{equals: X}``: equal to X, for a literal that would read as one of the
  forms above.

``shape.schema.json`` (its ``matcher`` definition) is what validates them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MISSING = object()


def values_equal(expected: Any, actual: Any) -> bool:
    """Equality with the type rules of the module docstring."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        return len(expected) == len(actual) and all(
            values_equal(e, a) for e, a in zip(expected, actual, strict=True)
        )
    return type(expected) is type(actual) and expected == actual


def show(value: Any) -> str:
    """A short, unambiguous text for a value in reports."""
    if value is MISSING:
        return "missing"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class ValueMatcher:
    """One expectation on a value that may be missing."""

    form: str
    expected: Any

    def check(self, actual: Any) -> bool:
        """True when ``actual`` (or :data:`MISSING`) satisfies this expectation."""
        if self.form == "present":
            return (actual is not MISSING) == self.expected
        if actual is MISSING:
            return False
        if self.form == "regex":
            return self.expected.search(str(actual)) is not None
        if self.form == "one_of":
            return any(values_equal(option, actual) for option in self.expected)
        return values_equal(self.expected, actual)

    def describe(self) -> str:
        """How the expectation reads in a report."""
        if self.form == "present":
            return "present" if self.expected else "absent"
        if self.form == "regex":
            return f"re'{self.expected.pattern}'"
        if self.form == "one_of":
            return "one of " + ", ".join(show(option) for option in self.expected)
        return show(self.expected)


def build_value_matcher(raw: Any) -> ValueMatcher:
    """The matcher for a YAML form already validated against ``shape.schema.json``."""
    if isinstance(raw, dict):
        ((form, value),) = raw.items()
        if form == "regex":
            return ValueMatcher("regex", re.compile(value))
        if form == "one_of":
            return ValueMatcher("one_of", tuple(value))
        return ValueMatcher(form, value)
    return ValueMatcher("equals", raw)
