"""Build the OpenTelemetry Collector, Jaeger v2 and promtool into ``.tools/bin``, cached.

Each tool has a stamp file (``.tools/stamps/<tool>.json``) holding a hash of
its build inputs: the pinned versions of ``infra/versions.env``, the
collector builder manifest, the recipe revision and the platform. A tool is
rebuilt only when that hash changes or its binary is gone, so a warm
``make tools`` costs a few file reads and no ``go`` call at all.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from tracelab.stack.errors import MissingBinaryError, StackError, VersionMismatchError
from tracelab.stack.logtail import tail_lines
from tracelab.stack.paths import tools_bin, tools_dir
from tracelab.stack.versions import load_versions

GO_HINT = (
    "go is not installed (needed once to build the collector and Jaeger): install Go 1.24+ "
    "from https://go.dev/dl/ (e.g. `tar -C /usr/local -xzf go1.x.linux-amd64.tar.gz` and "
    "add /usr/local/go/bin to PATH) or `apt-get install golang-go`, then run `make tools`"
)
BUILDER_MODULE = "go.opentelemetry.io/collector/cmd/builder"
CORE_PREFIX = "go.opentelemetry.io/collector/"
CONTRIB_PREFIX = "github.com/open-telemetry/opentelemetry-collector-contrib/"
JAEGER_MODULE = "github.com/jaegertracing/jaeger"
JAEGER_VERSION_PKG = f"{JAEGER_MODULE}/internal/version"
PROMETHEUS_MODULE = "github.com/prometheus/prometheus"
PROMETHEUS_VERSION_PKG = "github.com/prometheus/common/version"
# Bump when a recipe below changes in a way that needs a rebuild.
RECIPE_REVISION = "1"
# The local stack's programs (`make tools`, `make up`).
TOOL_NAMES = ("otelcol", "jaeger")
# Programs only the config checks run (`make check-tools`, before `make test`).
CHECK_TOOL_NAMES = ("promtool",)
ALL_TOOL_NAMES = TOOL_NAMES + CHECK_TOOL_NAMES

Echo = Callable[[str], None]


@dataclass(frozen=True)
class ToolResult:
    """What ``build_tools`` did for one tool."""

    name: str
    binary: Path
    built: bool
    seconds: float


def require_go() -> str:
    """Return the path of ``go``, or raise a one-line install hint."""
    go = shutil.which("go")
    if go is None:
        raise MissingBinaryError(GO_HINT)
    return go


def manifest_path(root: Path) -> Path:
    """Return the collector builder manifest, ``infra/otel-collector/builder.yaml``."""
    return root / "infra" / "otel-collector" / "builder.yaml"


def check_builder_manifest(manifest: dict, versions: dict[str, str]) -> list[str]:
    """List every way ``manifest`` disagrees with the pinned versions (empty: agrees)."""
    problems: list[str] = []
    core = "v" + versions["OTELCOL_CORE_VERSION"].lstrip("v")
    contrib = "v" + versions["OTELCOL_CONTRIB_VERSION"].lstrip("v")
    builder = versions["OTELCOL_BUILDER_VERSION"].lstrip("v")
    if builder != core.lstrip("v"):
        problems.append(
            f"OTELCOL_BUILDER_VERSION {builder} != OTELCOL_CORE_VERSION {core.lstrip('v')} "
            "(the builder only builds components of its own version)"
        )
    dist_version = str((manifest.get("dist") or {}).get("version", "")).lstrip("v")
    if dist_version != core.lstrip("v"):
        problems.append(f"dist.version is {dist_version or 'unset'}, expected {core.lstrip('v')}")
    for section in ("receivers", "processors", "exporters", "connectors", "extensions"):
        for entry in manifest.get(section) or []:
            gomod = str(entry.get("gomod", ""))
            module, _, version = gomod.partition(" ")
            if module.startswith(CORE_PREFIX):
                expected = core
            elif module.startswith(CONTRIB_PREFIX):
                expected = contrib
            else:
                continue
            if version.strip() != expected:
                problems.append(f"{module} is at {version.strip() or '?'}, expected {expected}")
    return problems


def load_manifest(root: Path, versions: dict[str, str]) -> tuple[dict, bytes]:
    """Read the builder manifest, failing with every version mismatch in one line."""
    path = manifest_path(root)
    raw = path.read_bytes()
    manifest = yaml.safe_load(raw) or {}
    problems = check_builder_manifest(manifest, versions)
    if problems:
        raise VersionMismatchError(
            f"{path.relative_to(root)} disagrees with infra/versions.env: " + "; ".join(problems)
        )
    return manifest, raw


def inputs_hash(*parts: str | bytes) -> str:
    """Return a sha256 over ``parts`` (with separators) plus the recipe revision and platform."""
    digest = hashlib.sha256()
    for part in (RECIPE_REVISION, sys.platform, platform.machine(), *parts):
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def stamp_path(root: Path, name: str) -> Path:
    """Return the stamp file of tool ``name``."""
    return tools_dir(root) / "stamps" / f"{name}.json"


def is_up_to_date(root: Path, name: str, binary: Path, digest: str) -> bool:
    """True when ``binary`` exists and the stamp records ``digest`` as its inputs."""
    if not binary.is_file():
        return False
    try:
        stamp = json.loads(stamp_path(root, name).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    return stamp.get("inputs") == digest


def write_stamp(root: Path, name: str, digest: str, seconds: float) -> None:
    """Record that tool ``name`` was built from inputs ``digest``."""
    path = stamp_path(root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {"inputs": digest, "built_at": time.time(), "build_seconds": round(seconds, 1)},
            indent=2,
        )
        + "\n"
    )


@contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    """Serialise concurrent ``tracelab tools`` runs on one checkout."""
    lock = tools_dir(root) / ".build.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_logged(
    argv: Sequence[str], *, cwd: Path, log: Path, env: dict[str, str], what: str
) -> str:
    """Run a build step appending its output to ``log``; raise a one-line error on failure."""
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}  (in {cwd})\n")
        out.flush()
        result = subprocess.run(
            list(argv), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=out, text=True
        )
        out.write(result.stdout)
    if result.returncode != 0:
        last = (tail_lines(log, 1) or ["(no output)"])[-1].strip()
        raise StackError(f"{what} failed (exit {result.returncode}): {last}; full log: {log}")
    return result.stdout


def _go_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def _install_atomically(built: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".new")
    shutil.copy2(built, tmp)
    tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    tmp.replace(target)


def _ensure_builder(root: Path, version: str, log: Path, echo: Echo) -> Path:
    """Install the collector builder at the pinned version into ``.tools/bin``."""
    builder = tools_bin(root) / "builder"
    if builder.is_file():
        out = subprocess.run([str(builder), "version"], capture_output=True, text=True)
        if re.search(rf"\bv?{re.escape(version)}\b", out.stdout + out.stderr):
            return builder
    echo(f"installing collector builder v{version}")
    _run_logged(
        [require_go(), "install", f"{BUILDER_MODULE}@v{version}"],
        cwd=root,
        log=log,
        env=_go_env(GOBIN=str(tools_bin(root))),
        what=f"installing the collector builder v{version}",
    )
    return builder


def build_collector(root: Path, versions: dict[str, str], echo: Echo) -> None:
    """Build the collector from the builder manifest and install ``.tools/bin/otelcol``."""
    manifest, _ = load_manifest(root, versions)
    logs = tools_dir(root) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "otelcol-build.log"
    log.write_text("")
    builder = _ensure_builder(root, versions["OTELCOL_BUILDER_VERSION"], log, echo)
    workdir = tools_dir(root)
    _run_logged(
        [str(builder), "--config", str(manifest_path(root))],
        cwd=workdir,
        log=log,
        env=_go_env(),
        what="building the collector",
    )
    dist = manifest.get("dist") or {}
    output = workdir / str(dist.get("output_path", "./_build")) / str(dist.get("name", "otelcol"))
    _install_atomically(output, tools_bin(root) / "otelcol")


def _build_in_module(
    root: Path, module: str, version: str, package: str, name: str, ldflags: str, echo: Echo
) -> None:
    """``go build`` ``package`` inside the downloaded ``module``; install ``.tools/bin/<name>``.

    ``go install module/pkg@version`` refuses a module whose go.mod has replace
    directives (Jaeger's and Prometheus's do), so the module is downloaded,
    copied to ``.tools/src/<name>`` and built there, with its own go.sum.
    """
    go = require_go()
    logs = tools_dir(root) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}-build.log"
    log.write_text("")
    out = _run_logged(
        [go, "mod", "download", "-json", f"{module}@{version}"],
        cwd=root,
        log=log,
        env=_go_env(),
        what=f"downloading {module}@{version}",
    )
    module_dir = Path(json.loads(out)["Dir"])
    src = tools_dir(root) / "src" / name
    if src.exists():
        _make_writable(src)
        shutil.rmtree(src)
    shutil.copytree(module_dir, src)
    _make_writable(src)
    echo(f"compiling {name} {version} ({package})")
    tmp = tools_bin(root) / f"{name}.build"
    tools_bin(root).mkdir(parents=True, exist_ok=True)
    _run_logged(
        [go, "build", "-trimpath", f"-ldflags=-s -w {ldflags}", "-o", str(tmp), package],
        cwd=src,
        log=log,
        # Prometheus's module ships a go.work naming modules its zip lacks.
        env=_go_env(CGO_ENABLED="0", GOWORK="off"),
        what=f"building {name} {version}",
    )
    tmp.replace(tools_bin(root) / name)


def build_jaeger(root: Path, versions: dict[str, str], echo: Echo) -> None:
    """Build Jaeger v2 (``cmd/jaeger``) from its Go module; install ``.tools/bin/jaeger``."""
    version = versions["JAEGER_MODULE_VERSION"]
    ldflags = f"-X {JAEGER_VERSION_PKG}.latestVersion={version}"
    _build_in_module(root, JAEGER_MODULE, version, "./cmd/jaeger", "jaeger", ldflags, echo)


def build_promtool(root: Path, versions: dict[str, str], echo: Echo) -> None:
    """Build Prometheus's ``promtool`` from its Go module; install ``.tools/bin/promtool``.

    The module's v0.3XX.Y is Prometheus v3.XX.Y; ``promtool --version`` says the latter.
    """
    version = versions["PROMETHEUS_MODULE_VERSION"]
    ldflags = f"-X {PROMETHEUS_VERSION_PKG}.Version={prometheus_release(version)}"
    _build_in_module(root, PROMETHEUS_MODULE, version, "./cmd/promtool", "promtool", ldflags, echo)


def prometheus_release(module_version: str) -> str:
    """Prometheus's release number of its Go module version: ``v0.313.2`` -> ``3.13.2``."""
    match = re.fullmatch(r"v0\.(\d)(\d\d)\.(\d+)", module_version)
    if not match:
        raise VersionMismatchError(f"{module_version} is not a Prometheus v3 module version")
    major, minor, patch = match.groups()
    return f"{major}.{int(minor)}.{patch}"


def _make_writable(tree: Path) -> None:
    """Module cache copies are read-only: make ``tree`` writable by its owner."""
    for path in (tree, *tree.rglob("*")):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def tool_digests(root: Path, versions: dict[str, str]) -> dict[str, str]:
    """Return the input hash of each tool (reads the manifest; never calls ``go``)."""
    _, manifest_bytes = load_manifest(root, versions)
    return {
        "otelcol": inputs_hash("otelcol", versions["OTELCOL_BUILDER_VERSION"], manifest_bytes),
        "jaeger": inputs_hash("jaeger", JAEGER_MODULE, versions["JAEGER_MODULE_VERSION"]),
        "promtool": inputs_hash(
            "promtool", PROMETHEUS_MODULE, versions["PROMETHEUS_MODULE_VERSION"]
        ),
    }


def stale_tools(root: Path) -> list[str]:
    """Names of the tools whose binary is missing or built from other inputs."""
    versions = load_versions(root)
    digests = tool_digests(root, versions)
    return [
        name
        for name in TOOL_NAMES
        if not is_up_to_date(root, name, tools_bin(root) / name, digests[name])
    ]


def build_tools(
    root: Path,
    *,
    only: Sequence[str] | None = None,
    force: bool = False,
    echo: Echo = lambda _msg: None,
) -> list[ToolResult]:
    """Build the tools that are out of date (all of ``only`` with ``force``).

    Without ``only``: the local stack's tools (``TOOL_NAMES``).
    """
    names = list(only) if only else list(TOOL_NAMES)
    unknown = sorted(set(names) - set(ALL_TOOL_NAMES))
    if unknown:
        raise StackError(
            f"unknown tool {', '.join(unknown)}: choose from {', '.join(ALL_TOOL_NAMES)}"
        )
    builders = {"otelcol": build_collector, "jaeger": build_jaeger, "promtool": build_promtool}
    results: list[ToolResult] = []
    versions = load_versions(root)
    with _build_lock(root):
        digests = tool_digests(root, versions)
        for name in names:
            binary = tools_bin(root) / name
            if not force and is_up_to_date(root, name, binary, digests[name]):
                results.append(ToolResult(name, binary, built=False, seconds=0.0))
                continue
            require_go()
            echo(f"building {name} ...")
            started = time.monotonic()
            builders[name](root, versions, echo)
            seconds = time.monotonic() - started
            write_stamp(root, name, digests[name], seconds)
            results.append(ToolResult(name, binary, built=True, seconds=seconds))
    return results
