"""Each scenario is declared once: no second list of names, and every list follows it.

Two proofs. No file keeps a list of its own: the services' and the lab's
code never spell a scenario's name (they hold the declared objects), no
Python collection anywhere lists two names, and the only text files naming
several scenarios are the docs tables a test checks against the
declaration. And a scenario declared in a test shows up in every place
that lists scenarios: the admin API, the CLI and the console.
"""

from __future__ import annotations

import ast
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from werkzeug.serving import make_server

from services.common import admin, faults
from services.common.config import ServiceSettings
from services.common.flask_support import create_flask_app
from services.common.scenarios import (
    CATALOGUE,
    N_PLUS_ONE,
    SEQUENTIAL_FANOUT,
    Answer,
    Catalogue,
    Check,
    Param,
    Scenario,
    Signature,
)
from tests.unit.console.helpers import HOST, _closed_url, get
from tracelab.analysis.findings import DETECTORS
from tracelab.console.app import create_app
from tracelab.console.settings import ConsoleSettings
from tracelab.scenarios import cli
from tracelab.scenarios.admin import ScenarioAdmin
from tracelab.stack.paths import repo_root

ROOT = repo_root()
NAMES = frozenset(CATALOGUE.names())
DECLARATION = Path("services/common/scenarios.py")
# Docs that list several scenarios, each checked against the declaration by a test.
CHECKED_LISTS = {
    Path(
        "docs/workshop/README.md"
    ): "test_the_workshop_outline_lists_every_scenario_with_its_owners_and_page",
    Path("docs/analysis.md"): "test_the_analysis_guide_lists_every_scenario_with_its_detector",
    Path("docs/architecture.md"): "test_the_bounds_are_the_documented_ones",
}
# Pages that quote a command's recorded output (a game day's report, an
# exercise's run): examples of what it prints, not a list to keep complete.
QUOTED_OUTPUT = {Path("docs/exercise.md"), Path("docs/gameday.md")}
TEXT = (".md", ".yaml", ".yml", ".js", ".html", ".css", ".toml", ".json", ".mk", ".env")


def _tracked(*patterns: str) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *patterns], cwd=ROOT, capture_output=True, check=True
    )
    return [Path(p) for p in listed.stdout.decode().split("\0") if p]


def _mentions(text: str) -> set[str]:
    return {name for name in NAMES if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _spelled_names(path: Path, source: str) -> list[tuple[int, str]]:
    """(line, name) of every string literal of ``path`` naming a scenario (docstrings aside)."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    # The analysis package's own vocabulary: detector kinds, two of which share a name.
    allowed = set(DETECTORS) if path.parts[:2] == ("tracelab", "analysis") else set()
    return [
        (node.lineno, name)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        for name in _mentions(node.value) - allowed
    ]


def _listed_names(source: str) -> list[tuple[int, set[str]]]:
    """Collection literals holding two or more scenario names as elements or keys."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            elements = node.elts
        elif isinstance(node, ast.Dict):
            elements = [key for key in node.keys if key is not None]
        else:
            continue
        names = {e.value for e in elements if isinstance(e, ast.Constant) and e.value in NAMES}
        # A detector's list (n-plus-one, sequential-fanout) is no list of scenarios.
        if len(names) >= 2 and names - set(DETECTORS):
            found.append((node.lineno, names))
    return found


def test_the_services_and_the_lab_never_spell_a_scenario_name():
    """They hold the declared objects: a typo is a NameError, not a scenario that is off."""
    spelled = [
        f"{path}:{line}: {name}"
        for path in _tracked("services/*.py", "tracelab/*.py")
        if path != DECLARATION
        for line, name in _spelled_names(path, (ROOT / path).read_text())
    ]
    assert spelled == []


def test_no_python_file_keeps_a_list_of_scenario_names():
    listed = [
        f"{path}:{line}: {sorted(names)}"
        for path in _tracked("*.py")
        if path != DECLARATION
        for line, names in _listed_names((ROOT / path).read_text())
    ]
    assert listed == []


def test_the_only_text_files_naming_several_scenarios_are_checked_docs_tables():
    several = {
        path
        for path in _tracked()
        if path.suffix in TEXT or path.name == "Makefile"
        if len(_mentions((ROOT / path).read_text(errors="replace"))) >= 3
    }
    assert several == set(CHECKED_LISTS) | QUOTED_OUTPUT
    tests = (ROOT / "tests/unit").rglob("test_*.py")
    defined = {m for t in tests for m in re.findall(r"^def (test_\w+)", t.read_text(), re.M)}
    assert set(CHECKED_LISTS.values()) <= defined


def test_the_console_page_and_scripts_name_no_scenario():
    """The console lists what its API answers: nothing to keep in step."""
    files = _tracked("tracelab/console/static/*", "tracelab/console/templates/*")
    assert files
    assert {str(p): _mentions((ROOT / p).read_text()) for p in files} == {
        str(p): set() for p in files
    }


def test_the_scans_see_a_second_list():
    """The scans above catch what they are for (else they would pass on anything)."""
    one, two = CATALOGUE.names()[:2]
    source = f'ON = ["{one}", "{two}"]\nswitch = "{one}"\n'
    assert _listed_names(source) == [(1, {one, two})]
    assert sorted(_spelled_names(Path("services/x.py"), source)) == sorted(
        [(1, one), (1, two), (2, one)]
    )
    kinds = f'KINDS = ["{N_PLUS_ONE.name}", "{SEQUENTIAL_FANOUT.name}"]\n'
    assert _listed_names(kinds) == []  # detector kinds
    assert _spelled_names(Path("tracelab/analysis/x.py"), kinds) == []


# -- a scenario declared in a test is listed everywhere -----------------------------------
TOKEN = "a-token-for-these-tests-only"
FAKE = Scenario(
    "fake-fault",
    ("user",),
    "a fault only this test declares",
    {"ms": Param(10, 0, 100)},
    Signature("dominating-span", "(any)"),
    Check("dashboard"),
    Answer(frozenset({"GET"})),
)


@pytest.fixture
def declared(monkeypatch) -> Iterator[Scenario]:
    monkeypatch.setenv(admin.TOKEN_ENV, TOKEN)
    monkeypatch.setattr(CATALOGUE, "scenarios", (*CATALOGUE.scenarios, FAKE))
    yield FAKE
    faults.REGISTRY.disable_all()


@pytest.fixture
def service(declared, spans) -> Iterator[str]:
    """A real admin API (the services' own module) over HTTP on 127.0.0.1."""
    app = create_flask_app(__name__, ServiceSettings(name="user", port=1))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def test_the_admin_api_lists_and_switches_a_newly_declared_scenario(service):
    headers = {admin.TOKEN_HEADER: TOKEN}
    listing = requests.get(service + admin.SCENARIOS_PATH, headers=headers, timeout=5).json()
    fake = next(e for e in listing["scenarios"] if e["name"] == "fake-fault")
    assert fake["here"] is True and fake["limits"] == {"ms": {"min": 0, "max": 100}}
    url = f"{service}{admin.SCENARIOS_PATH}/fake-fault"
    assert requests.put(url, json={"params": {"ms": 5}}, headers=headers, timeout=5).ok
    assert faults.active(FAKE) == {"ms": 5}


def test_the_cli_lists_and_switches_a_newly_declared_scenario(service, monkeypatch):
    monkeypatch.setattr(cli, "_admin", lambda: ScenarioAdmin({"user": service}, TOKEN))
    runner = CliRunner()
    listed = runner.invoke(cli.scenario, ["list"])
    assert listed.exit_code == 0, listed.output
    assert "off fake-fault         [user] a fault only this test declares" in listed.output
    switched = runner.invoke(cli.scenario, ["on", "fake-fault", "--param", "ms=7"])
    assert switched.exit_code == 0 and "fake-fault: ON in user" in switched.output
    assert faults.active(FAKE) == {"ms": 7}
    typo = runner.invoke(cli.scenario, ["on", "fake-falut"])
    assert typo.exit_code == 2
    assert "unknown scenario 'fake-falut'; known: slow-query," in typo.output
    assert "fake-fault" in typo.output


def _console(service: str, log_dir: Path):
    """A console whose every scenario owner's admin API is ``service`` (the rest never asked)."""
    owners = {name: service for name in CATALOGUE.owners()}
    settings = ConsoleSettings(
        backends={"jaeger": _closed_url()},
        services={"frontend": _closed_url(), **owners},
        log_dir=log_dir,
        start_hint="make up",
        span_metrics_url=None,
    )
    return create_app(settings).test_client()


def test_the_console_lists_a_newly_declared_scenario(service, tmp_path):
    console = _console(service, tmp_path)
    listed = get(console, "/api/scenarios").get_json()["scenarios"]
    assert [s["name"] for s in listed] == list(CATALOGUE.names())
    fake = listed[-1]
    assert fake == {
        "name": "fake-fault",
        "summary": "a fault only this test declares",
        "services": ["user"],
        "defaults": {"ms": 10},
        "active": False,
        "params": {"ms": 10},
    }
    typo = console.put("/api/scenarios/fake-falut", headers=HOST)
    assert typo.status_code == 404
    assert "known: slow-query," in typo.get_json()["error"]["message"]


def test_the_console_says_so_when_a_service_does_not_know_a_declared_scenario(
    service, tmp_path, monkeypatch
):
    """Version skew: the console declares fake-fault, the running service's code does not."""
    older = Catalogue(tuple(s for s in CATALOGUE.scenarios if s is not FAKE))
    monkeypatch.setattr(faults, "REGISTRY", faults.Registry(older))
    console = _console(service, tmp_path)
    refused = console.put("/api/scenarios/fake-fault", headers=HOST, data="{}")
    assert refused.status_code == 404
    error = refused.get_json()["error"]
    assert error["code"] == "unknown_scenario"
    assert "unknown scenario 'fake-fault'" in error["message"]
    assert "older scenario declaration: restart it with `make up`" in error["message"]
