"""Pinned versions, the builder manifest check and the build cache (no Go needed)."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
import yaml

from tracelab.progress import format_duration
from tracelab.stack import tools
from tracelab.stack.errors import MissingBinaryError, StackError, VersionMismatchError
from tracelab.stack.paths import repo_root
from tracelab.stack.versions import load_versions, parse_env_file

ROOT = repo_root()


def test_parse_env_file_skips_comments_and_blank_lines():
    text = "# pinned\n\nA=1\n  B = two  \n"
    assert parse_env_file(text) == {"A": "1", "B": "two"}


@pytest.mark.parametrize("line", ["JUSTAKEY", "=value", "bad key=1"])
def test_parse_env_file_rejects_lines_that_are_not_assignments(line):
    with pytest.raises(StackError, match="line 1 is not KEY=VALUE"):
        parse_env_file(line)


def test_the_repository_pins_every_tool_version():
    versions = load_versions(ROOT)
    assert versions["OTELCOL_BUILDER_VERSION"] == versions["OTELCOL_CORE_VERSION"]
    assert versions["JAEGER_MODULE_VERSION"].startswith("v")


def test_the_builder_manifest_agrees_with_versions_env():
    manifest = yaml.safe_load(tools.manifest_path(ROOT).read_text())
    assert tools.check_builder_manifest(manifest, load_versions(ROOT)) == []


def _manifest() -> dict:
    return yaml.safe_load(tools.manifest_path(ROOT).read_text())


def test_a_contrib_module_at_another_version_is_reported():
    manifest = _manifest()
    entry = manifest["exporters"][-1]
    module = entry["gomod"].split()[0]
    entry["gomod"] = f"{module} v0.1.0"
    problems = tools.check_builder_manifest(manifest, load_versions(ROOT))
    assert problems == [
        f"{module} is at v0.1.0, expected v{load_versions(ROOT)['OTELCOL_CONTRIB_VERSION']}"
    ]


def test_a_config_provider_at_the_components_version_is_reported():
    """Providers are the core's stable v1 modules, not at the components' v0 version."""
    manifest = _manifest()
    versions = load_versions(ROOT)
    (env_provider,) = [p for p in manifest["providers"] if "envprovider" in p["gomod"]]
    module = env_provider["gomod"].split()[0]
    env_provider["gomod"] = f"{module} v{versions['OTELCOL_CORE_VERSION']}"
    assert tools.check_builder_manifest(manifest, versions) == [
        f"{module} is at v{versions['OTELCOL_CORE_VERSION']}, "
        f"expected v{versions['OTELCOL_CORE_STABLE_VERSION']}"
    ]


def test_dist_version_and_builder_version_must_match_core():
    manifest = _manifest()
    manifest["dist"]["version"] = "0.1.0"
    versions = {**load_versions(ROOT), "OTELCOL_BUILDER_VERSION": "0.2.0"}
    problems = tools.check_builder_manifest(manifest, versions)
    assert any(
        p.startswith("OTELCOL_BUILDER_VERSION 0.2.0 != OTELCOL_CORE_VERSION") for p in problems
    )
    assert any(p.startswith("dist.version is 0.1.0") for p in problems)


def _fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "infra" / "otel-collector").mkdir(parents=True)
    shutil.copy(ROOT / "infra" / "versions.env", root / "infra" / "versions.env")
    shutil.copy(tools.manifest_path(ROOT), tools.manifest_path(root))
    return root


def test_a_mismatched_manifest_stops_the_build_in_one_line(tmp_path):
    root = _fake_root(tmp_path)
    text = tools.manifest_path(root).read_text().replace("v0.155.0", "v0.154.0", 1)
    tools.manifest_path(root).write_text(text)
    with pytest.raises(VersionMismatchError) as caught:
        tools.build_tools(root)
    assert "disagrees with infra/versions.env" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_inputs_hash_is_stable_and_sensitive_to_every_part():
    base = tools.inputs_hash("otelcol", "0.155.0", b"manifest")
    assert base == tools.inputs_hash("otelcol", "0.155.0", b"manifest")
    assert base != tools.inputs_hash("otelcol", "0.155.1", b"manifest")
    assert base != tools.inputs_hash("otelcol", "0.155.0", b"manifest2")
    # Separators: moving bytes between parts changes the hash.
    assert tools.inputs_hash("ab", "c") != tools.inputs_hash("a", "bc")


def test_up_to_date_tools_are_not_rebuilt_and_need_no_go(tmp_path, monkeypatch):
    root = _fake_root(tmp_path)
    digests = tools.tool_digests(root, load_versions(root))
    for name in tools.TOOL_NAMES:
        binary = root / ".tools" / "bin" / name
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.write_text("#!/bin/sh\n")
        tools.write_stamp(root, name, digests[name], {"download": 1.0, "build": 2.0})
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    results = tools.build_tools(root)
    assert [(r.name, r.built) for r in results] == [("otelcol", False), ("jaeger", False)]
    assert tools.stale_tools(root) == []
    stamp = json.loads(tools.stamp_path(root, "jaeger").read_text())
    assert stamp["inputs"] == digests["jaeger"]


def test_a_changed_pin_makes_exactly_that_tool_stale(tmp_path):
    root = _fake_root(tmp_path)
    digests = tools.tool_digests(root, load_versions(root))
    for name in tools.TOOL_NAMES:
        binary = root / ".tools" / "bin" / name
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.write_text("")
        tools.write_stamp(root, name, digests[name], {"download": 1.0, "build": 2.0})
    versions_env = root / "infra" / "versions.env"
    versions_env.write_text(
        versions_env.read_text().replace(
            "JAEGER_MODULE_VERSION=v1.76.0", "JAEGER_MODULE_VERSION=v1.77.0"
        )
    )
    assert tools.stale_tools(root) == ["jaeger"]


def test_a_needed_build_without_go_says_how_to_install_it(tmp_path, monkeypatch):
    root = _fake_root(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MissingBinaryError) as caught:
        tools.build_tools(root, only=["jaeger"])
    message = str(caught.value)
    assert message.startswith("go is not installed")
    assert "https://go.dev/dl/" in message
    assert "\n" not in message


def test_unknown_tool_names_are_refused(tmp_path):
    with pytest.raises(StackError, match="unknown tool tempo"):
        tools.build_tools(_fake_root(tmp_path), only=["tempo"])


def test_prometheus_module_versions_name_their_release():
    assert tools.prometheus_release("v0.313.2") == "3.13.2"
    assert tools.prometheus_release("v0.300.0") == "3.0.0"
    with pytest.raises(VersionMismatchError):
        tools.prometheus_release("v2.53.0")


def test_the_check_tools_are_built_only_when_named(tmp_path, monkeypatch):
    root = _fake_root(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MissingBinaryError):
        tools.build_tools(root, only=["promtool"])
    assert "promtool" not in tools.TOOL_NAMES


class FakeRecipe:
    """A recipe that records its phases; downloads meet at a barrier (both at once);
    with ``release``, jaeger's build waits until the test releases it."""

    def __init__(self, root: Path, name: str, calls: list[str], barrier, release=None):
        self.root = root
        self.name = name
        self.calls = calls
        self.barrier = barrier
        self.release = release

    def download(self) -> None:
        self.calls.append(f"{self.name} download")
        self.barrier.wait(timeout=5)  # BrokenBarrierError when run one after the other

    def build(self) -> None:
        self.calls.append(f"{self.name} build")
        if self.release is not None:
            assert self.release.wait(timeout=5)
        binary = tools.tools_bin(self.root) / self.name
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.write_text("")


def _fake_recipes(monkeypatch, root: Path, calls: list[str], release=None) -> None:
    barrier = threading.Barrier(len(tools.TOOL_NAMES))

    def make(name):
        held = release if name == "jaeger" else None
        return lambda _root, _versions: FakeRecipe(root, name, calls, barrier, held)

    monkeypatch.setattr(tools, "RECIPES", {name: make(name) for name in tools.ALL_TOOL_NAMES})
    monkeypatch.setattr(tools, "require_go", lambda: "go")


def test_a_build_reports_each_phase_and_downloads_every_tool_at_once(tmp_path, monkeypatch):
    root = _fake_root(tmp_path)
    calls: list[str] = []
    lines: list[str] = []
    _fake_recipes(monkeypatch, root, calls)
    results = tools.build_tools(root, echo=lines.append)
    assert calls[2:] == ["otelcol build", "jaeger build"]
    assert sorted(calls[:2]) == ["jaeger download", "otelcol download"]
    started = [line for line in lines if " done, " not in line]
    assert [line.partition("] ")[2] for line in started] == [
        "download the Go modules of otelcol, jaeger",
        "build otelcol (go build)",
        "build jaeger (go build)",
    ]
    assert started[0].startswith("[tools 1/3, 0 s elapsed, about ")
    assert lines[-1].startswith("[tools 3/3 done, ")
    assert lines[-1].endswith("about 0 s left] build jaeger (go build)")
    assert [(r.name, r.built, sorted(r.phases)) for r in results] == [
        ("otelcol", True, ["build", "download"]),
        ("jaeger", True, ["build", "download"]),
    ]
    assert tools.stale_tools(root) == []


def test_the_estimate_before_a_first_build_is_the_measured_cold_build(tmp_path, monkeypatch):
    root = _fake_root(tmp_path)
    lines: list[str] = []
    _fake_recipes(monkeypatch, root, [])
    cold = tools.COLD_PHASE_SECONDS
    expected = max(cold["otelcol"]["download"], cold["jaeger"]["download"]) + sum(
        cold[name]["build"] for name in ("otelcol", "jaeger")
    )
    tools.build_tools(root, echo=lines.append)
    assert f"about {format_duration(expected)} left]" in lines[0]


def test_the_next_estimate_comes_from_the_phases_the_stamp_recorded(tmp_path):
    root = _fake_root(tmp_path)
    assert tools.phase_estimates(root, "jaeger") == tools.COLD_PHASE_SECONDS["jaeger"]
    tools.write_stamp(root, "jaeger", "digest", {"download": 12.34, "build": 99.0})
    assert tools.phase_estimates(root, "jaeger") == {"download": 12.3, "build": 99.0}
    stamp = json.loads(tools.stamp_path(root, "jaeger").read_text())
    assert stamp["build_seconds"] == 111.3


def test_a_silent_go_build_gets_heartbeat_lines(tmp_path, monkeypatch):
    root = _fake_root(tmp_path)
    lines: list[str] = []
    release = threading.Event()  # jaeger's build ends only once a heartbeat was seen

    def echo(line: str) -> None:
        lines.append(line)
        if "build jaeger (go build) (still running)" in line:
            release.set()

    _fake_recipes(monkeypatch, root, [], release=release)
    tools.build_tools(root, echo=echo, heartbeat_s=0.05)
    assert any(line.startswith("[tools 3/3, ") and "still running" in line for line in lines)


def test_up_to_date_tools_print_no_progress(tmp_path, monkeypatch):
    root = _fake_root(tmp_path)
    _fake_recipes(monkeypatch, root, [])
    tools.build_tools(root)
    lines: list[str] = []
    assert all(not r.built for r in tools.build_tools(root, echo=lines.append))
    assert lines == []


def test_the_go_compiler_gets_a_larger_heap_capped_by_a_memory_limit():
    env = tools.compiler_gc_env({})
    assert env["GOGC"] == "400"
    limit_mib = int(env["GOMEMLIMIT"].removesuffix("MiB"))
    total_mib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20
    assert 512 <= limit_mib <= max(total_mib // 2, 512)


@pytest.mark.parametrize("users", [{"GOGC": "100"}, {"GOMEMLIMIT": "2GiB"}])
def test_a_users_own_gogc_or_memory_limit_is_kept(users, monkeypatch):
    for key, value in users.items():
        monkeypatch.setenv(key, value)
    assert tools.compiler_gc_env(users) == {}
    env = tools._go_env()
    assert {key: env[key] for key in users} == users
    assert env["GOFLAGS"].endswith("-buildvcs=false")
