"""The service image: one multi-stage, slim, non-root Dockerfile for the services and console."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

from services.common import launch
from tests.config.helpers import (
    CONSOLE_PORT,
    DOCKERFILE,
    ROOT,
    SERVICE_PORTS,
    compose,
    instructions,
    python_module,
    readiness_path,
    stack,
)

DOCKERIGNORE = ROOT / ".dockerignore"
# The project's uv (make venv installs it at infra/versions.env's UV_VERSION).
UV = ROOT / ".tools" / "uv-venv" / "bin" / "uv"


def stages() -> dict[str, list[tuple[str, str]]]:
    """Instructions per named stage (``FROM ... AS name``)."""
    result: dict[str, list[tuple[str, str]]] = {}
    current = None
    for word, rest in instructions():
        if word == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert match and match.group(2), f"name every stage: FROM {rest}"
            current = match.group(2)
            result[current] = [(word, rest)]
        elif current:
            result[current].append((word, rest))
    return result


def test_multi_stage_with_pinned_bases():
    assert list(stages()) == ["uv", "console-assets", "build", "runtime"]
    args = {
        m.group(1): m.group(2)
        for word, rest in instructions()
        if word == "ARG" and (m := re.fullmatch(r"(\w+)=(\S+)", rest))
    }
    for word, rest in instructions():
        if word == "FROM":
            image = rest.split()[0]
            name = re.fullmatch(r"\$\{(\w+)\}", image)
            assert name, f"FROM {image}: use a pinned ARG"
            pinned = args[name.group(1)]
            assert re.search(r":\d+\.\d+\.\d+", pinned), f"{pinned} is not an exact version"


def test_dependencies_come_from_the_lock_only():
    assert uv_syncs(), "the build stage installs with uv sync"
    for argv in uv_syncs():
        assert "--frozen" in argv, f"{' '.join(argv)}: install exactly what uv.lock says"
    text = DOCKERFILE.read_text()
    assert "pip install" not in text, "install from uv.lock, not with pip"


# ------------------------------------- what the image's virtualenv holds
def uv_syncs() -> list[list[str]]:
    """Every ``uv sync`` of the build stage, as argv (after the RUN's --mount options)."""
    found = []
    for word, rest in stages()["build"]:
        if word != "RUN":
            continue
        for command in re.split(r"&&|;", rest):
            argv = shlex.split(command)
            while argv and argv[0].startswith("--"):  # RUN --mount=... options
                argv.pop(0)
            if argv[:2] == ["uv", "sync"]:
                found.append(argv)
    return found


def build_env() -> dict[str, str]:
    """The build stage's ENV values (``KEY=VALUE`` form)."""
    env: dict[str, str] = {}
    for word, rest in stages()["build"]:
        if word == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(rest))
    return env


def would_install(argv: list[str], tmp_path: Path) -> set[str]:
    """Package names ``argv`` (a ``uv sync``) installs, from uv's own dry run on the lock."""
    env = {
        **os.environ,
        **build_env(),
        # A fresh environment, so the dry run lists everything the image gets.
        "UV_PROJECT_ENVIRONMENT": str(tmp_path / "image-venv"),
        "UV_NO_CONFIG": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        [str(UV), *argv[1:], "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Would install" in result.stderr, result.stderr
    names = re.findall(r"^ \+ ([A-Za-z0-9._-]+)(?:==| @)", result.stderr, re.MULTILINE)
    return {canonical(name) for name in names}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_closure(roots: list[dict]) -> set[str]:
    """Every package reachable from ``roots`` (uv.lock dependency entries), extras
    included and markers ignored: a superset of what any platform installs."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages: dict[str, list[dict]] = {}
    for package in lock["package"]:
        packages.setdefault(canonical(package["name"]), []).append(package)
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        dep = stack.pop()
        name = canonical(dep["name"])
        key = name + "[" + ",".join(sorted(dep.get("extra", []))) + "]"
        if key in seen:
            continue
        seen |= {key, name + "[]"}
        for package in packages[name]:
            stack += package.get("dependencies", [])
            for extra in dep.get("extra", []):
                stack += package.get("optional-dependencies", {}).get(extra, [])
    return {key.partition("[")[0] for key in seen}


def test_image_installs_the_project_dependencies_and_no_dependency_group(tmp_path):
    """The image's uv sync, dry-run on the lock by the project's uv: the project's
    dependencies only, none of pyproject's dependency groups (tests, benchmark)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    name = canonical(project["project"]["name"])
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (own,) = [p for p in lock["package"] if canonical(p["name"]) == name]
    runtime = lock_closure(own["dependencies"]) | {name}
    groups = {
        group: lock_closure(deps) - runtime for group, deps in own["dev-dependencies"].items()
    }
    assert set(groups) == set(project["dependency-groups"])
    syncs = uv_syncs()
    assert syncs
    for argv in syncs:
        installed = would_install(argv, tmp_path)
        stray = {group: sorted(installed & only_there) for group, only_there in groups.items()}
        assert not any(stray.values()), (
            f"{' '.join(argv)} installs {len(installed)} packages, with these of the "
            f"dependency groups: {stray}"
        )
        assert installed <= runtime, sorted(installed - runtime)
        missing = {canonical(d["name"]) for d in own["dependencies"]} - installed
        assert not missing, f"{' '.join(argv)} leaves out {sorted(missing)}"


def test_runtime_is_slim_and_unprivileged():
    runtime = stages()["runtime"]
    assert runtime[0][1].startswith("${PYTHON_IMAGE}")
    copies = [rest for word, rest in runtime if word == "COPY"]
    assert copies == ["--from=build /app/.venv /app/.venv"], "only the virtualenv"
    users = [rest for word, rest in runtime if word == "USER"]
    assert users and re.fullmatch(r"(\d+)(:\d+)?", users[-1]), "numeric USER"
    assert int(users[-1].split(":")[0]) >= 1000
    env = " ".join(rest for word, rest in runtime if word == "ENV")
    assert "BIND_HOST=0.0.0.0" in env
    (cmd,) = [rest for word, rest in runtime if word == "CMD"]
    assert "exec python -m services.common.launch" in json.loads(cmd)[-1]
    assert "exec python -m tracelab.console" in cmd  # SERVICE=console


def test_console_assets_come_from_the_npm_lock_only():
    node = stages()["console-assets"]
    copies = [rest for word, rest in node if word == "COPY"]
    assert copies == ["tracelab/console/web/package.json tracelab/console/web/package-lock.json ./"]
    (run,) = [rest for word, rest in node if word == "RUN"]
    assert run.startswith("npm ci ") and "--ignore-scripts" in run
    build = stages()["build"]
    assert "python -m tracelab.console.assets --from /tmp/console-node-modules" in [
        rest for word, rest in build if word == "RUN"
    ]
    # The host's vendored copy never enters the build: the image makes its own.
    assert "tracelab/console/static/vendor" in DOCKERIGNORE.read_text().splitlines()


def test_healthcheck_knows_every_service_port():
    (check,) = [rest for word, rest in instructions() if word == "HEALTHCHECK"]
    mapping = re.search(r"dict\(([^)]*)\)", check.split("CMD", 1)[1])
    assert mapping, "the healthcheck maps SERVICE to its default port"
    ports = dict(re.findall(r"(\w+)=(\d+)", mapping.group(1)))
    assert {k: int(v) for k, v in ports.items()} == {**SERVICE_PORTS, "console": CONSOLE_PORT}
    assert {readiness_path(name) for name in [*SERVICE_PORTS, "console"]} == {"/readyz"}
    assert "/readyz" in check


def test_the_image_runs_the_modules_the_local_stack_runs():
    """One command per component in every mode: the image's CMD is the local stack's."""
    (cmd,) = [rest for word, rest in instructions() if word == "CMD"]
    script = json.loads(cmd)[-1]
    assert f"exec python -m {python_module('console')};" in script
    assert 'exec python -m services.common.launch "${SERVICE}"' in script
    assert {python_module(name) for name in SERVICE_PORTS} == {
        f"services.{name}" for name in SERVICE_PORTS
    }
    # The launcher and the local stack build the service's command in one place.
    for name in SERVICE_PORTS:
        assert stack.BY_NAME[name].command.service == name
        for mode in launch.MODES:
            argv, _ = launch.command(name, {launch.MODE_VAR: mode})
            assert argv[-2:] == ["-m", python_module(name)]


def test_compose_runs_every_service_from_this_one_image():
    services = compose()["services"]
    images = {services[name]["image"] for name in SERVICE_PORTS}
    assert len(images) == 1
    for name in SERVICE_PORTS:
        assert "SERVICE" not in services[name]["build"].get("args", {}), (
            "one image: SERVICE is chosen at run time"
        )


# ----------------------------------------------------------- .dockerignore
def _pattern(pattern: str) -> re.Pattern[str]:
    out = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            out += ".*"
            index += 2
        elif pattern[index] == "*":
            out += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            out += "[^/]"
            index += 1
        else:
            out += re.escape(pattern[index])
            index += 1
    return re.compile(out + "$")


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        rules.append((negate, _pattern(line.lstrip("!").strip("/"))))
    return rules


def sent_to_docker(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or a parent decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for negate, pattern in dockerignore_rules():
        if any(pattern.match(candidate) for candidate in candidates):
            included = negate
    return included


def copy_sources() -> list[str]:
    sources = []
    for word, rest in instructions():
        if word == "COPY" and "--from=" not in rest:
            sources += rest.split()[:-1]
    return sources


def test_every_copied_file_exists_and_is_sent_to_docker():
    sources = copy_sources()
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: missing"
        assert sent_to_docker(source), f"COPY {source}: excluded by .dockerignore"
        if (ROOT / source).is_dir():
            for path in (ROOT / source).rglob("*.py"):
                if "__pycache__" not in path.parts:
                    relative = path.relative_to(ROOT).as_posix()
                    assert sent_to_docker(relative), f"{relative} is excluded"


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".tools/bin/otelcol",
        ".git/HEAD",
        ".run/state.json",
        "tests/e2e/x.py",
        "services/gateway/__pycache__/app.cpython-311.pyc",
        "infra/postgres/seed.sql",
        ".env",
    ],
)
def test_local_state_and_secrets_stay_out_of_the_build_context(path):
    assert not sent_to_docker(path)


def test_the_project_metadata_the_build_needs_is_copied():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {"pyproject.toml", "uv.lock", pyproject["project"]["readme"]}
    needed |= set(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    assert needed <= set(copy_sources())
