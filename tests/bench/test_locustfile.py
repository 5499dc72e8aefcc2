"""loadtest/locustfile.py: in step with the benchmark's workload, and working.

The locustfile is not imported here: importing Locust monkey-patches the
standard library with gevent. Its constants are read from the source, and
it runs in a Locust subprocess against a fake frontend.
"""

import ast
import csv
import subprocess
import sys
from pathlib import Path

from services.db.seed import seed_password, seed_user
from tests.bench.fake_frontend import serve_in_thread
from tracelab.bench import workload

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtest" / "locustfile.py"


def _module() -> ast.Module:
    return ast.parse(LOCUSTFILE.read_text())


def _constant(name: str):
    for node in _module().body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found in {LOCUSTFILE}")


def _function(name: str):
    for node in _module().body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            namespace: dict = {}
            exec(compile(ast.Module([node], []), str(LOCUSTFILE), "exec"), namespace)
            return namespace[name]
    raise AssertionError(f"{name} not found in {LOCUSTFILE}")


def test_journeys_weights_and_statuses_match_the_benchmark():
    assert _constant("JOURNEY_WEIGHTS") == workload.JOURNEY_WEIGHTS
    assert _constant("EXPECTED_STATUS") == {j.name: j.expected_status for j in workload.JOURNEYS}
    assert _constant("SYNTHETIC_BAGGAGE") == workload.SYNTHETIC_BAGGAGE
    assert _constant("NOT_FOUND_USER_ID") == workload.NOT_FOUND_USER_ID
    assert _constant("BAD_TOKEN") == workload.BAD_TOKEN


def test_seed_accounts_match_the_database_seed():
    email, password = _function("seed_email"), _function("seed_password")
    for n in (1, 42, 1000):
        assert email(n) == seed_user(n).email
        assert password(n) == seed_password(n)


def test_locust_runs_every_journey_against_a_fake_frontend(tmp_path):
    with serve_in_thread() as (url, recorder):
        result = subprocess.run(
            [
                sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
                "--users", "6", "--spawn-rate", "6", "--run-time", "5s", "--host", url,
                "--csv", str(tmp_path / "run"), "--only-summary", "--stop-timeout", "2",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    with (tmp_path / "run_stats.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["Name"] != "Aggregated"]
    names = {r["Name"] for r in rows}
    assert "login: POST /api/login" in names  # every user logs in on start
    assert "profile: GET /api/users/[id]" in names
    for row in rows:
        journey = row["Name"].split(":")[0]
        assert journey in workload.JOURNEY_WEIGHTS
        assert int(row["Failure Count"]) == 0
    assert recorder.requests
    assert all(h.get("baggage") == workload.SYNTHETIC_BAGGAGE for _, _, h in recorder.requests)
    assert not any("traceparent" in {k.lower() for k in h} for _, _, h in recorder.requests)
