"""Prometheus's config, as Compose and each Kubernetes overlay run it, checked by promtool.

promtool is built from the Prometheus Go module of the image's release
(``make check-tools``: infra/versions.env's PROMETHEUS_MODULE_VERSION, cached
in .tools/bin).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.config.helpers import PROMETHEUS_CONFIG, ROOT, dotenv
from tests.config.variants import prometheus_variants
from tracelab.stack.tools import build_tools, prometheus_release
from tracelab.stack.versions import load_versions

VARIANTS = prometheus_variants()


@pytest.fixture(scope="module")
def promtool() -> Path:
    """promtool, built once (cached in .tools)."""
    (result,) = build_tools(ROOT, only=["promtool"])
    return result.binary


def run(promtool: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool), *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_promtool_is_the_release_the_images_run(promtool, tmp_path):
    release = prometheus_release(load_versions(ROOT)["PROMETHEUS_MODULE_VERSION"])
    assert dotenv()["PROMETHEUS_IMAGE"] == f"prom/prometheus:v{release}"
    result = run(promtool, "--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"promtool, version {release} " in result.stdout + result.stderr


def test_every_mode_runs_the_shared_file():
    for name, variant in VARIANTS.items():
        ((_, text),) = variant.files
        assert text == PROMETHEUS_CONFIG.read_text(), name


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_prometheus_config_passes_promtool(promtool, tmp_path, name):
    """``promtool check config`` (lint included) on the file each mode mounts."""
    (path,) = VARIANTS[name].write(tmp_path)
    result = run(promtool, "check", "config", "--lint=all", "--lint-fatal", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_rule_files_pass_promtool(promtool, tmp_path):
    """Every rule file the config loads passes ``promtool check rules``. There are
    none today: then no rule file may lie beside the config unreferenced."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    patterns = config.get("rule_files") or []
    rules = sorted({p for pattern in patterns for p in PROMETHEUS_CONFIG.parent.glob(pattern)})
    assert len(rules) >= len(patterns), f"{patterns} match no file"
    if rules:
        result = run(promtool, "check", "rules", *map(str, rules), cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        others = [p.name for p in PROMETHEUS_CONFIG.parent.iterdir() if p != PROMETHEUS_CONFIG]
        assert not others, f"{others} beside prometheus.yml, but rule_files loads none"
