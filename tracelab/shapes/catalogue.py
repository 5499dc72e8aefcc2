"""The golden shapes the lab ships: where they are, which there are, loading one by name.

The shapes live in ``tests/shapes`` (journeys) and ``tests/shapes/scenarios``
(scenario signatures) of the checkout; the service image copies them and
points ``TRACELAB_SHAPES_DIR`` at the copy. A shape is named by its path
under that folder without ``.yaml``: ``dashboard``, ``scenarios/slow-query``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tracelab.shapes.shape import Shape, ShapeError, load_shape

SHAPES_ENV = "TRACELAB_SHAPES_DIR"


def shapes_dir() -> Path:
    """``$TRACELAB_SHAPES_DIR``, else the checkout's ``tests/shapes``."""
    explicit = os.environ.get(SHAPES_ENV, "").strip()
    return Path(explicit) if explicit else Path(__file__).resolve().parents[2] / "tests" / "shapes"


@dataclass(frozen=True)
class ShapeEntry:
    """One shape file: its name, whether it is a journey's or a scenario's, its description."""

    name: str
    kind: str
    description: str
    path: Path


def list_shapes() -> list[ShapeEntry]:
    """Every golden shape, journeys first, by name."""
    root = shapes_dir()
    entries = []
    for path in sorted(root.glob("*.yaml")) + sorted((root / "scenarios").glob("*.yaml")):
        name = path.relative_to(root).with_suffix("").as_posix()
        kind = "scenario" if name.startswith("scenarios/") else "journey"
        try:
            description = load_shape(path).description
        except ShapeError as exc:
            description = f"(unreadable: {exc})"
        entries.append(ShapeEntry(name, kind, " ".join(description.split()), path))
    return entries


def load_named(name: str) -> Shape:
    """The shape called ``name``; :class:`ShapeError` naming the known ones otherwise."""
    known = {entry.name: entry for entry in list_shapes()}
    if name not in known:
        raise ShapeError(f"no golden shape {name!r}; known: {', '.join(known)}")
    return load_shape(known[name].path)


def journey_shape_path(journey_name: str) -> Path:
    """The golden trace shape of a journey (:mod:`tracelab.journeys`): ``<shapes>/<name>.yaml``."""
    return shapes_dir() / f"{journey_name}.yaml"
