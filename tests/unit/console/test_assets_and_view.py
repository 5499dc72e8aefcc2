"""The vendored browser library, and the trace view the waterfall reads."""

from __future__ import annotations

import json

import pytest

from tests.unit.shapes.builders import build, node
from tracelab.console import assets
from tracelab.console.trace_view import trace_view, tree_order


def test_the_vendored_files_are_those_package_json_lists_with_their_licences():
    manifest = assets.vendor_manifest()
    assert manifest["chart.js"] == ["dist/chart.umd.min.js", "LICENSE.md"]
    lock = json.loads((assets.WEB_DIR / "package-lock.json").read_text())
    pinned = {path.removeprefix("node_modules/") for path in lock["packages"] if path}
    assert set(manifest) == pinned  # every locked package ships its licence, nothing else
    for name, files in manifest.items():
        assert any(f.startswith("LICENSE") for f in files), f"{name} without its licence"
    # `make console-assets` ran before the tests: the files are there and current.
    assert assets.up_to_date()
    assert all(path.is_file() for path in assets.vendored_files())


def test_assets_are_copied_from_a_given_node_modules(tmp_path, monkeypatch):
    vendor = tmp_path / "vendor"
    monkeypatch.setattr(assets, "VENDOR_DIR", vendor)
    monkeypatch.setattr(assets, "STAMP", vendor / ".lock-sha256")
    modules = tmp_path / "node_modules"
    for name, files in assets.vendor_manifest().items():
        for file in files:
            (modules / name / file).parent.mkdir(parents=True, exist_ok=True)
            (modules / name / file).write_text(f"{name}/{file}")
    assert not assets.up_to_date()
    assert assets.build(modules) is True
    assert (
        vendor / "chart.js" / "chart.umd.min.js"
    ).read_text() == "chart.js/dist/chart.umd.min.js"
    assert assets.up_to_date() and assets.build(modules) is False  # a second run is a no-op
    (vendor / ".lock-sha256").write_text("stale\n")
    assert not assets.up_to_date()
    (modules / "chart.js" / "LICENSE.md").unlink()
    with pytest.raises(assets.AssetError, match=r"LICENSE\.md is missing"):
        assets.build(modules)


def _trace():
    return build(
        node(
            "frontend",
            "GET /api/dashboard",
            "server",
            0,
            50,
            children=[
                node(
                    "frontend",
                    "GET",
                    "client",
                    2,
                    48,
                    events=(("exception", {"exception.type": "X"}),),
                    children=[
                        node("gateway", "GET /api/dashboard", "server", 3, 47),
                    ],
                ),
                node("frontend", "render", "internal", 48.5, 49.5),
            ],
        )
    )


def test_tree_order_is_depth_first_by_start_time():
    names = [(span.name, depth) for span, depth in tree_order(_trace())]
    assert names == [
        ("GET /api/dashboard", 0),
        ("GET", 1),
        ("GET /api/dashboard", 2),
        ("render", 1),
    ]


def test_trace_view_offsets_timings_and_resources():
    view = trace_view(_trace(), "jaeger", now=0)
    assert view["span_count"] == 4 and view["roots"] == 1 and view["backend"] == "jaeger"
    root, client, server, _render = view["spans"]
    assert (root["start_us"], root["duration_us"]) == (0, 50_000)
    assert client["self_us"] == pytest.approx(2_000) and client["children"] == 1
    assert server["critical_us"] == pytest.approx(44_000)
    assert client["events"][0]["offset_us"] == pytest.approx(2_000)
    # Resources are listed once and shared (the builder gives every span the same one).
    assert len(view["resources"]) == 1 and {s["resource"] for s in view["spans"]} == {0}
    assert sum(s["end_us"] - s["start_us"] for s in view["critical_path"]) == pytest.approx(50_000)
    assert view["arrival"]["complete"] is True


def test_an_orphan_is_shown_as_a_root_that_waits_for_its_parent():
    orphan = build(
        node("db", "SELECT", "client", 0, 5, attrs={"db.system": "postgresql"}),
        parent="00000000000000aa",
    )
    view = trace_view(orphan, "jaeger", now=0)
    assert view["spans"][0]["orphan"] is True and view["spans"][0]["depth"] == 0
    assert view["arrival"] == {"complete": False, "waiting_for_parent": 1, "unanswered_calls": 0}
