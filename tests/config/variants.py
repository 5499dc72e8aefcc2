"""Every way tracelab runs the collector and Prometheus: config files and environment.

Read from the places that run them, not restated: the local stack's runner
(``tracelab.stack.config``) and the sampling comparison's tail strategy,
the Compose service's ``command`` and bind mounts, and each rendered
Kubernetes kustomization's containers (config-file arguments resolved
through their volume mounts to the rendered ConfigMaps).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.config.helpers import (
    ROOT,
    bind_mounts,
    by_kind,
    compose,
    env_of,
    k8s_container_env,
    pod_spec,
    render_kustomization,
    workloads,
)
from tracelab.sampling.strategies import strategies
from tracelab.stack import config as stack_config
from tracelab.stack.paths import run_dir

KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
# Kustomizations checked: the base as it stands, and both overlays.
KUSTOMIZATIONS = ("base", "dev", "production")


@dataclass(frozen=True)
class Variant:
    """One program as one mode runs it: its config files (name, text) and environment."""

    name: str
    files: tuple[tuple[str, str], ...]
    env: Mapping[str, str]

    def write(self, directory: Path) -> list[Path]:
        """The config files, written under ``directory`` in ``--config`` order."""
        paths = []
        for index, (name, text) in enumerate(self.files):
            path = directory / self.name.replace("/", "_").replace(":", "_") / f"{index}-{name}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            paths.append(path)
        return paths

    def components(self) -> set[tuple[str, str]]:
        """(kind, type) of every component the files configure (merging only adds keys)."""
        found = set()
        for _, text in self.files:
            config = yaml.safe_load(text) or {}
            for kind in KINDS:
                found |= {(kind, key.split("/")[0]) for key in config.get(kind) or {}}
        return found

    def providers(self) -> set[str]:
        """Config provider schemes the files need: ``file`` (each is passed as
        ``--config=FILE``) and each ``${scheme:...}``; a bare ``${VAR}`` is ``env``."""
        found = {"file"}
        for _, text in self.files:
            for scheme in re.findall(r"\$\{(?:([a-z][a-z0-9+.-]*):)?[^}]*\}", text):
                found.add(scheme or "env")
        return found


def _config_paths(args: list[str], flag: str = "--config") -> list[str]:
    paths = [arg.removeprefix(f"{flag}=") for arg in args if arg.startswith(f"{flag}=")]
    assert paths, f"no {flag}=FILE in {args}"
    return paths


def local_variants() -> list[Variant]:
    """The local stack's collector (tracelab up), and with the tail strategy of
    ``tracelab sampling compare`` on top."""
    config = ROOT / stack_config.INFRA_CONFIGS[stack_config.COLLECTOR]
    queue_dir = run_dir(ROOT, {}) / "otelcol-queue"
    env = stack_config.collector_env(stack_config.resolve_ports({}), {}, queue_dir)
    (tail,) = [
        s for s in strategies(0.1, 5.0, 500, 10.0) if s.collector_env.get("TRACES_PROCESSORS")
    ]
    files = ((config.name, config.read_text()),)
    return [
        Variant("local", files, env),
        Variant("local:tail-sampling", files, {**env, **tail.collector_env}),
    ]


def compose_variant(service_name: str = "otel-collector", flag: str = "--config") -> Variant:
    """A Compose service: its ``command``'s config files, read through its bind mounts."""
    service = compose()["services"][service_name]
    mounts = {target: source for source, target, _ in bind_mounts(service)}
    files = []
    for path in _config_paths(service["command"], flag):
        assert path in mounts, f"{path} is not a bind-mounted file"
        files.append((mounts[path].name, mounts[path].read_text()))
    return Variant(f"compose:{service_name}", tuple(files), env_of(service))


def mounted_file(docs: tuple[dict[str, Any], ...], pod: Mapping[str, Any], container, path: str):
    """(key, text) of the ConfigMap file a container sees at ``path``."""
    for mount in container.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        source = volume["configMap"]
        name = path.removeprefix(prefix)
        items = {item["path"]: item["key"] for item in source.get("items", [])}
        key = items.get(name, name)
        data = by_kind(docs, "ConfigMap")[source["name"]]["data"]
        assert key in data, f"ConfigMap {source['name']} has no {key}"
        return key, data[key]
    raise AssertionError(f"{path} is on no volume of {container['name']}")


def k8s_variants(
    kustomization: str, image: str = "opentelemetry-collector", flag: str = "--config"
) -> list[Variant]:
    """Every container of a rendered kustomization whose image names ``image``."""
    docs = render_kustomization(kustomization)
    found = []
    for kind_name, workload in workloads(docs).items():
        pod = pod_spec(workload)
        for container in pod["containers"]:
            if image not in container["image"]:
                continue
            files = tuple(
                mounted_file(docs, pod, container, path)
                for path in _config_paths(container.get("args", []), flag)
            )
            env = k8s_container_env(docs, container)
            found.append(Variant(f"k8s-{kustomization}:{kind_name}", files, env))
    assert found, f"{kustomization} runs no {image}"
    return found


@cache
def collector_variants() -> dict[str, Variant]:
    """Every collector variant of every mode, by name."""
    variants = [*local_variants(), compose_variant()]
    for kustomization in KUSTOMIZATIONS:
        variants += k8s_variants(kustomization)
    return {variant.name: variant for variant in variants}


@cache
def prometheus_variants() -> dict[str, Variant]:
    """Prometheus in Compose and in both overlays (the local stack runs none)."""
    flag = "--config.file"
    variants = [compose_variant("prometheus", flag)]
    for overlay in KUSTOMIZATIONS[1:]:
        variants += k8s_variants(overlay, "prom/prometheus", flag)
    return {variant.name: variant for variant in variants}
