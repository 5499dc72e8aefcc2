"""The healthchecks and probes of Compose, Kubernetes and the image, run against the real programs.

The local stack (``tracelab.stack``: PostgreSQL, the collector, Jaeger, the
five services and the console, on free ports in a private run directory) is
started once; then every Compose ``healthcheck.test``, the Dockerfile's
``HEALTHCHECK`` and every Kubernetes probe of a program that runs here is
executed against it, with the container port mapped to the local one (as a
published port would be), and must pass; after ``down`` each must fail.
Tempo, Loki, Prometheus, Grafana and Locust do not run here (no local build):
their checks are listed as such and keep only the offline checks.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.config.helpers import (
    ROOT,
    SERVICE_PORTS,
    compose,
    instructions,
    pod_spec,
    render_overlay,
    workloads,
)
from tracelab.stack import Stack
from tracelab.stack import config as cfg
from tracelab.stack.paths import tools_bin
from tracelab.stack.ports import find_free_ports

# What the local stack runs, by Compose service / Kubernetes container name.
RUNS_HERE = set(cfg.ALL_COMPONENTS)
NOT_RUN_HERE = {"tempo", "loki", "prometheus", "grafana", "locust"}


@dataclass(frozen=True)
class Check:
    """One healthcheck: a command (exec) or an HTTP GET (a Kubernetes httpGet probe)."""

    where: str
    component: str
    argv: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    container_port: int | None = None
    path: str = ""


def compose_checks() -> list[Check]:
    checks = []
    for name, service in compose()["services"].items():
        test = (service.get("healthcheck") or {}).get("test")
        if test:
            assert test[0] == "CMD", f"{name}: exec-form healthcheck"
            checks.append(Check(f"compose:{name}", name, tuple(test[1:])))
    return checks


def dockerfile_checks() -> list[Check]:
    (check,) = [rest for word, rest in instructions() if word == "HEALTHCHECK"]
    argv = tuple(json.loads(check.split("CMD", 1)[1]))
    return [
        Check(f"Dockerfile:{name}", name, argv, {"SERVICE": name})
        for name in (*SERVICE_PORTS, cfg.CONSOLE)
    ]


def k8s_checks() -> list[Check]:
    checks = []
    for overlay in ("dev", "production"):
        for kind_name, workload in workloads(render_overlay(overlay)).items():
            for container in pod_spec(workload)["containers"]:
                ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
                env = {e["name"]: e.get("value", "") for e in container.get("env", [])}
                for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                    probe = container.get(kind)
                    if not probe:
                        continue
                    where = f"k8s-{overlay}:{kind_name}:{kind}"
                    if "httpGet" in probe:
                        port = probe["httpGet"]["port"]
                        number = ports[port] if isinstance(port, str) else port
                        checks.append(
                            Check(
                                where,
                                container["name"],
                                container_port=number,
                                path=probe["httpGet"]["path"],
                            )
                        )
                    else:
                        argv = tuple(probe["exec"]["command"])
                        checks.append(Check(where, container["name"], argv, env))
    return checks


ALL_CHECKS = [*compose_checks(), *dockerfile_checks(), *k8s_checks()]
LOCAL = [check for check in ALL_CHECKS if check.component in RUNS_HERE]


def test_every_check_is_run_here_or_named_as_not_run():
    assert {c.component for c in ALL_CHECKS} <= RUNS_HERE | NOT_RUN_HERE
    # Every program the local stack runs has its checks run below.
    assert {c.component for c in LOCAL} == RUNS_HERE


# ----------------------------------------------------------------- the stack
@dataclass
class Running:
    """The local stack on free ports: container port -> local port, per component."""

    stack: Stack
    ports: dict[str, dict[int, int]]
    postgres_port: int


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    missing = [n for n in ("otelcol", "jaeger") if not (tools_bin(ROOT) / n).is_file()]
    assert not missing, f"{', '.join(missing)} not built: run `make tools`"
    variables = [spec.env_var for spec in cfg.PORT_SPECS.values()] + [cfg.POSTGRES_PORT_VAR]
    env = dict(zip(variables, map(str, find_free_ports(len(variables))), strict=True))
    run_dir = Path(tempfile.mkdtemp(prefix="tracelab-healthchecks-"))
    run_dir.chmod(0o755)  # the postgres user traverses it when the tests run as root
    stack = Stack(ROOT, run_dir=run_dir, env=env)
    ports: dict[str, dict[int, int]] = {}
    for spec in cfg.PORT_SPECS.values():
        ports.setdefault(spec.component, {})[spec.default] = int(env[spec.env_var])
    postgres_port = int(env[cfg.POSTGRES_PORT_VAR])
    ports[cfg.POSTGRES] = {cfg.POSTGRES_DEFAULT_PORT: postgres_port}
    try:
        stack.up(timeout=120)
        yield Running(stack, ports, postgres_port)
    finally:
        stack.down(timeout=5)
        shutil.rmtree(run_dir, ignore_errors=True)


_LOCAL_URL = re.compile(r"(127\.0\.0\.1|localhost):(\d+)")


def executable(argv: tuple[str, ...]) -> list[str]:
    """The check's argv with its program found here: the image's python is the venv's,
    busybox's wget is the machine's wget."""
    argv = argv[1:] if argv[0].endswith("/busybox") else argv
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    if argv[0] == "sh":
        return ["/bin/sh", *argv[1:]]
    program = shutil.which(argv[0])
    assert program, f"{argv[0]} is not installed here"
    return [program, *argv[1:]]


def run_check(check: Check, running: Running) -> tuple[bool, str]:
    """(passed, what happened) for ``check`` against the local stack."""
    ports = running.ports[check.component]
    if check.path:
        local = ports[check.container_port]
        url = f"http://127.0.0.1:{local}{check.path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                # The kubelet: 200 <= status < 400 passes.
                return 200 <= response.status < 400, f"GET {url}: {response.status}"
        except urllib.error.HTTPError as error:
            return False, f"GET {url}: {error.code}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            return False, f"GET {url}: {error}"

    def local(match: re.Match[str]) -> str:
        port = int(match.group(2))
        assert port in ports, f"{check.where}: {match.group(0)} is no port of {check.component}"
        return f"127.0.0.1:{ports[port]}"

    argv = [_LOCAL_URL.sub(local, arg) for arg in executable(check.argv)]
    env = {"PATH": os.environ["PATH"], **check.env}
    if check.component == cfg.POSTGRES:
        env |= {"PGPORT": str(running.postgres_port), "POSTGRES_USER": cfg.DB_USER}
    if check.where.startswith("Dockerfile:"):
        port_var = "TRACELAB_CONSOLE_PORT" if check.component == cfg.CONSOLE else "PORT"
        env[port_var] = str(ports[cfg.PORT_SPECS[check.component].default])
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=10)
    return result.returncode == 0, f"{shlex.join(argv)}: exit {result.returncode} {result.stderr}"


def test_every_check_passes_while_the_programs_run_and_fails_once_stopped(running):
    outcomes = {check.where: run_check(check, running) for check in LOCAL}
    failed = {where: what for where, (ok, what) in outcomes.items() if not ok}
    assert not failed, failed
    running.stack.down(timeout=5)
    outcomes = {check.where: run_check(check, running) for check in LOCAL}
    passed = {where: what for where, (ok, what) in outcomes.items() if ok}
    assert not passed, f"pass with the programs stopped: {passed}"
