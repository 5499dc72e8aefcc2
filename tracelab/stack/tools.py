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
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from tracelab.progress import Progress
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
# The manifest's sections of components (at the core's version) and of
# config providers/converters (the core's stable v1 modules).
COMPONENT_SECTIONS = ("receivers", "processors", "exporters", "connectors", "extensions")
CONFMAP_SECTIONS = ("providers", "converters")
JAEGER_MODULE = "github.com/jaegertracing/jaeger"
JAEGER_VERSION_PKG = f"{JAEGER_MODULE}/internal/version"
PROMETHEUS_MODULE = "github.com/prometheus/prometheus"
PROMETHEUS_VERSION_PKG = "github.com/prometheus/common/version"
# Bump when a recipe below changes in a way that needs a rebuild.
RECIPE_REVISION = "2"
# The local stack's programs (`make tools`, `make up`).
TOOL_NAMES = ("otelcol", "jaeger")
# Programs only the config checks run (`make check-tools`, before `make test`).
CHECK_TOOL_NAMES = ("promtool",)
ALL_TOOL_NAMES = TOOL_NAMES + CHECK_TOOL_NAMES
# A tool build's phases: fetch its modules (network), then compile and link (CPU).
PHASES = ("download", "build")
# Seconds of each phase on a cold Go cache on 2 cores (measured for issue 13):
# the progress estimate until a stamp holds this machine's own figures.
COLD_PHASE_SECONDS = {
    "otelcol": {"download": 50.0, "build": 155.0},
    "jaeger": {"download": 100.0, "build": 300.0},
    "promtool": {"download": 45.0, "build": 200.0},
}
# The compiler's GOGC (see compiler_gc_env).
COMPILER_GOGC = 400
# A silent `go build` repeats its progress line this often (seconds).
HEARTBEAT_S = 15.0

Echo = Callable[[str], None]


@dataclass(frozen=True)
class ToolResult:
    """What ``build_tools`` did for one tool."""

    name: str
    binary: Path
    built: bool
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)


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
    stable = "v" + versions["OTELCOL_CORE_STABLE_VERSION"].lstrip("v")
    for section in (*COMPONENT_SECTIONS, *CONFMAP_SECTIONS):
        for entry in manifest.get(section) or []:
            gomod = str(entry.get("gomod", ""))
            module, _, version = gomod.partition(" ")
            if module.startswith(CORE_PREFIX):
                expected = stable if section in CONFMAP_SECTIONS else core
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


def write_stamp(root: Path, name: str, digest: str, phases: dict[str, float]) -> None:
    """Record that tool ``name`` was built from inputs ``digest``, with each phase's seconds."""
    path = stamp_path(root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = {
        "inputs": digest,
        "built_at": time.time(),
        "build_seconds": round(sum(phases.values()), 1),
        "phases": {phase: round(s, 1) for phase, s in phases.items()},
    }
    path.write_text(json.dumps(stamp, indent=2) + "\n")


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
    argv: Sequence[str],
    *,
    cwd: Path,
    log: Path,
    env: dict[str, str],
    what: str,
    log_stdout: bool = True,
) -> str:
    """Run a build step appending its output to ``log``; raise a one-line error on failure."""
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}  (in {cwd})\n")
        out.flush()
        result = subprocess.run(
            list(argv), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=out, text=True
        )
        if log_stdout:
            out.write(result.stdout)
    if result.returncode != 0:
        last = (tail_lines(log, 1) or ["(no output)"])[-1].strip()
        raise StackError(f"{what} failed (exit {result.returncode}): {last}; full log: {log}")
    return result.stdout


def compiler_gc_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``GOGC``/``GOMEMLIMIT`` for the Go compiler, unless the user set either.

    At the default ``GOGC=100`` the compiler spends about a third of its CPU
    collecting garbage (issue 13: a cold ``go build -a`` of go-json's encoder
    and the standard library took 38.4 s of CPU, 25.1 s at ``GOGC=400``; the
    collector builder's install 39.2 s, 30.0 s). The
    larger heap is capped by ``GOMEMLIMIT``: half the machine's memory shared
    by the compilers ``go build`` runs at once (one per core).
    """
    env = os.environ if environ is None else environ
    if "GOGC" in env or "GOMEMLIMIT" in env:
        return {}
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    per_compiler = max(total // (2 * (os.cpu_count() or 1)), 512 << 20)
    return {"GOGC": str(COMPILER_GOGC), "GOMEMLIMIT": f"{per_compiler >> 20}MiB"}


def _go_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # The module copies live inside this git checkout: without this, go would
    # run git on it and stamp tracelab's revision into Jaeger.
    env["GOFLAGS"] = f"{env.get('GOFLAGS', '')} -buildvcs=false".strip()
    env.update(compiler_gc_env(env))
    env.update(extra)
    return env


def _install_atomically(built: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".new")
    shutil.copy2(built, tmp)
    tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    tmp.replace(target)


def _fresh_log(root: Path, name: str) -> Path:
    logs = tools_dir(root) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}-build.log"
    log.write_text("")
    return log


def _ensure_builder(root: Path, version: str, log: Path) -> Path:
    """Install the collector builder at the pinned version into ``.tools/bin``."""
    builder = tools_bin(root) / "builder"
    if builder.is_file():
        out = subprocess.run([str(builder), "version"], capture_output=True, text=True)
        if re.search(rf"\bv?{re.escape(version)}\b", out.stdout + out.stderr):
            return builder
    _run_logged(
        [require_go(), "install", f"{BUILDER_MODULE}@v{version}"],
        cwd=root,
        log=log,
        env=_go_env(GOBIN=str(tools_bin(root))),
        what=f"installing the collector builder v{version}",
    )
    return builder


class Recipe(Protocol):
    """How one tool is made, in the two ``PHASES``."""

    name: str

    def download(self) -> None:
        """Fetch the sources and every module the build needs."""

    def build(self) -> None:
        """Compile and link, then install the binary into ``.tools/bin``."""


class CollectorRecipe:
    """The collector, built by the collector builder from ``builder.yaml`` in two phases."""

    name = "otelcol"

    def __init__(self, root: Path, versions: dict[str, str]) -> None:
        self.root = root
        self.versions = versions
        self.manifest, _ = load_manifest(root, versions)
        self.log = _fresh_log(root, self.name)
        self.builder: Path | None = None

    def _run_builder(self, *flags: str, what: str) -> None:
        assert self.builder is not None, "download() first"
        _run_logged(
            [str(self.builder), "--config", str(manifest_path(self.root)), *flags],
            cwd=tools_dir(self.root),
            log=self.log,
            env=_go_env(),
            what=what,
        )

    def download(self) -> None:
        """Install the builder; generate the sources; ``go mod tidy`` and download."""
        self.builder = _ensure_builder(
            self.root, self.versions["OTELCOL_BUILDER_VERSION"], self.log
        )
        self._run_builder("--skip-compilation", what="generating the collector's sources")

    def build(self) -> None:
        """Compile the generated sources (the builder's own ``go build`` flags) and install."""
        self._run_builder("--skip-generate", "--skip-get-modules", what="building the collector")
        dist = self.manifest.get("dist") or {}
        output = (
            tools_dir(self.root)
            / str(dist.get("output_path", "./_build"))
            / str(dist.get("name", "otelcol"))
        )
        _install_atomically(output, tools_bin(self.root) / "otelcol")


class ModuleRecipe:
    """``go build`` of ``package`` inside the downloaded ``module``: ``.tools/bin/<name>``.

    ``go install module/pkg@version`` refuses a module whose go.mod has replace
    directives (Jaeger's and Prometheus's do), so the module is downloaded,
    copied to ``.tools/src/<name>`` and built there, with its own go.sum.
    """

    def __init__(
        self, root: Path, name: str, module: str, version: str, package: str, ldflags: str
    ) -> None:
        self.root = root
        self.name = name
        self.module = module
        self.version = version
        self.package = package
        self.ldflags = ldflags
        self.log = _fresh_log(root, name)
        self.src = tools_dir(root) / "src" / name
        # Prometheus's module ships a go.work naming modules its zip lacks.
        self.env = _go_env(CGO_ENABLED="0", GOWORK="off")

    def download(self) -> None:
        """Fetch the module, copy it to ``.tools/src``, fetch what ``package`` imports."""
        go = require_go()
        out = _run_logged(
            [go, "mod", "download", "-json", f"{self.module}@{self.version}"],
            cwd=self.root,
            log=self.log,
            env=_go_env(),
            what=f"downloading {self.module}@{self.version}",
        )
        module_dir = Path(json.loads(out)["Dir"])
        if self.src.exists():
            _make_writable(self.src)
            shutil.rmtree(self.src)
        shutil.copytree(module_dir, self.src)
        _make_writable(self.src)
        # Loading the package graph downloads exactly the modules the build
        # needs (``go mod download`` would fetch every test dependency too).
        _run_logged(
            [go, "list", "-deps", "-f", "{{.ImportPath}}", self.package],
            cwd=self.src,
            log=self.log,
            env=self.env,
            what=f"downloading the modules {self.name} imports",
            log_stdout=False,
        )

    def build(self) -> None:
        """Compile and link ``package`` (stripped, trimmed paths) and install it."""
        tmp = tools_bin(self.root) / f"{self.name}.build"
        tools_bin(self.root).mkdir(parents=True, exist_ok=True)
        _run_logged(
            [
                require_go(),
                "build",
                "-trimpath",
                f"-ldflags=-s -w {self.ldflags}",
                "-o",
                str(tmp),
                self.package,
            ],
            cwd=self.src,
            log=self.log,
            env=self.env,
            what=f"building {self.name} {self.version}",
        )
        tmp.replace(tools_bin(self.root) / self.name)


def jaeger_recipe(root: Path, versions: dict[str, str]) -> ModuleRecipe:
    """Jaeger v2 (``cmd/jaeger``) from its Go module: ``.tools/bin/jaeger``."""
    version = versions["JAEGER_MODULE_VERSION"]
    ldflags = f"-X {JAEGER_VERSION_PKG}.latestVersion={version}"
    return ModuleRecipe(root, "jaeger", JAEGER_MODULE, version, "./cmd/jaeger", ldflags)


def promtool_recipe(root: Path, versions: dict[str, str]) -> ModuleRecipe:
    """Prometheus's ``promtool`` from its Go module: ``.tools/bin/promtool``.

    The module's v0.3XX.Y is Prometheus v3.XX.Y; ``promtool --version`` says the latter.
    """
    version = versions["PROMETHEUS_MODULE_VERSION"]
    ldflags = f"-X {PROMETHEUS_VERSION_PKG}.Version={prometheus_release(version)}"
    return ModuleRecipe(root, "promtool", PROMETHEUS_MODULE, version, "./cmd/promtool", ldflags)


RECIPES: dict[str, Callable[[Path, dict[str, str]], Recipe]] = {
    "otelcol": CollectorRecipe,
    "jaeger": jaeger_recipe,
    "promtool": promtool_recipe,
}


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


def phase_estimates(root: Path, name: str) -> dict[str, float]:
    """Seconds each phase of ``name`` is expected to take: its last build here, else cold."""
    cold = COLD_PHASE_SECONDS[name]
    try:
        phases = json.loads(stamp_path(root, name).read_text())["phases"]
        return {phase: float(phases[phase]) for phase in PHASES}
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        return dict(cold)


def _timed(action: Callable[[], None]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def _download_all(recipes: Sequence[Recipe]) -> dict[str, float]:
    """Every recipe's download at once (network, mostly): seconds per tool."""
    with ThreadPoolExecutor(max_workers=len(recipes)) as pool:
        futures = {recipe.name: pool.submit(_timed, recipe.download) for recipe in recipes}
        return {name: future.result() for name, future in futures.items()}


def build_tools(
    root: Path,
    *,
    only: Sequence[str] | None = None,
    force: bool = False,
    echo: Echo = lambda _msg: None,
    heartbeat_s: float = HEARTBEAT_S,
) -> list[ToolResult]:
    """Build the tools that are out of date (all of ``only`` with ``force``).

    Without ``only``: the local stack's tools (``TOOL_NAMES``). The modules of
    every tool to build are downloaded first, all at once; then each tool is
    compiled in turn (one ``go build`` already keeps both cores busy). Each
    phase reports through :class:`tracelab.progress.Progress` on ``echo``.
    """
    names = list(only) if only else list(TOOL_NAMES)
    unknown = sorted(set(names) - set(ALL_TOOL_NAMES))
    if unknown:
        raise StackError(
            f"unknown tool {', '.join(unknown)}: choose from {', '.join(ALL_TOOL_NAMES)}"
        )
    versions = load_versions(root)
    with _build_lock(root):
        digests = tool_digests(root, versions)
        todo = [
            name
            for name in names
            if force or not is_up_to_date(root, name, tools_bin(root) / name, digests[name])
        ]
        seconds: dict[str, dict[str, float]] = {}
        if todo:
            require_go()
            seconds = _build(root, versions, todo, digests, echo, heartbeat_s)
    return [
        ToolResult(
            name,
            tools_bin(root) / name,
            built=name in seconds,
            seconds=sum(seconds.get(name, {}).values()),
            phases=seconds.get(name, {}),
        )
        for name in names
    ]


def _build(
    root: Path,
    versions: dict[str, str],
    todo: Sequence[str],
    digests: dict[str, str],
    echo: Echo,
    heartbeat_s: float,
) -> dict[str, dict[str, float]]:
    """Download for every tool in ``todo``, then build each; stamp each: phase seconds."""
    estimates = {name: phase_estimates(root, name) for name in todo}
    progress = Progress(
        "tools",
        [max(e["download"] for e in estimates.values())]
        + [estimates[name]["build"] for name in todo],
        echo=echo,
    )
    recipes = [RECIPES[name](root, versions) for name in todo]
    with progress.phase(f"download the Go modules of {', '.join(todo)}", every_s=heartbeat_s):
        downloads = _download_all(recipes)
    seconds: dict[str, dict[str, float]] = {}
    for recipe in recipes:
        with progress.phase(f"build {recipe.name} (go build)", every_s=heartbeat_s):
            build_s = _timed(recipe.build)
        seconds[recipe.name] = {"download": downloads[recipe.name], "build": build_s}
        write_stamp(root, recipe.name, digests[recipe.name], seconds[recipe.name])
    return seconds
