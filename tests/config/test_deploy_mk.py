"""mk/deploy.mk: every target parses, and k8s-render renders what the tests validated."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.config.helpers import ROOT, render_overlay

MAKEFILE = ROOT / "mk" / "deploy.mk"
TARGETS = (
    "compose-up",
    "compose-down",
    "compose-logs",
    "compose-status",
    "test-compose",
    "k8s-render",
    "k8s-up",
    "k8s-down",
)


def make(*args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("make")
    assert executable, "make is needed"
    return subprocess.run(
        [executable, "--no-print-directory", "-f", str(MAKEFILE), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def dry_run(target: str, *variables: str) -> str:
    result = make("-n", target, *variables)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_target_exists_and_parses(target):
    assert dry_run(target).strip()


def test_compose_up_builds_and_waits_for_every_healthcheck():
    commands = dry_run("compose-up")
    assert "docker compose up --build --detach --wait" in commands


def test_k8s_up_applies_server_side():
    """The seed ConfigMap is too large for client-side apply's annotation (256 KiB)."""
    commands = dry_run("k8s-up")
    assert "apply --server-side" in commands
    # Plain kustomize, as `kubectl apply -k` runs it (the base sits beside the configs).
    assert "load-restrictor" not in commands


def fake_kubectl(tmp_path):
    """A kubectl that renders for real and only records every other command."""
    real = shutil.which("kubectl")
    assert real, "kubectl is needed"
    calls = tmp_path / "calls.log"
    script = tmp_path / "kubectl"
    script.write_text(
        f'#!/bin/sh\nif [ "$1" = kustomize ]; then exec {real} "$@"; fi\necho "$*" >> {calls}\n'
    )
    script.chmod(0o755)
    return script, calls


def test_k8s_down_deletes_production_only_when_confirmed(tmp_path):
    kubectl, calls = fake_kubectl(tmp_path)
    common = ("K8S_OVERLAY=production", f"K8S_RENDER_DIR={tmp_path}", f"KUBECTL={kubectl}")
    refused = make("k8s-down", *common)
    assert refused.returncode != 0
    assert "CONFIRM=yes" in refused.stdout + refused.stderr
    assert not calls.exists(), "nothing may be deleted without CONFIRM=yes"
    confirmed = make("k8s-down", *common, "CONFIRM=yes")
    assert confirmed.returncode == 0, confirmed.stderr
    recorded = calls.read_text()
    assert f"delete --ignore-not-found -f {tmp_path}/production.yaml" in recorded


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_k8s_render_writes_the_validated_manifests(tmp_path, overlay):
    result = make("k8s-render", f"K8S_OVERLAY={overlay}", f"K8S_RENDER_DIR={tmp_path}")
    assert result.returncode == 0, result.stderr
    rendered = tuple(
        doc for doc in yaml.safe_load_all((tmp_path / f"{overlay}.yaml").read_text()) if doc
    )
    assert rendered == render_overlay(overlay)


def test_mode_selection_honours_mode():
    result = make("--eval", "show-mode: ; @echo $(TRACELAB_MODE)", "show-mode", "MODE=compose")
    assert result.stdout.strip() == "compose"
    result = make("--eval", "show-mode: ; @echo $(TRACELAB_MODE)", "show-mode", "MODE=local")
    assert result.stdout.strip() == "local"
