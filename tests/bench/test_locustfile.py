"""loadtest/locustfile.py: the journeys' one definition, and working in Locust.

The locustfile is not imported here: importing Locust monkey-patches the
standard library with gevent. It runs in a Locust subprocess against a fake
frontend instead.
"""

import ast
import csv
import shutil
import subprocess
import sys
from pathlib import Path

from services.db import accounts
from tests.bench.fake_frontend import serve_in_thread
from tracelab.journeys import BY_NAME, JOURNEYS, SYNTHETIC_BAGGAGE

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "loadtest" / "locustfile.py"
# What the Compose and Kubernetes Locust containers get beside the locustfile
# (tests/config checks the mounts): the journeys and the seed accounts.
DEFINITION_FILES = ("tracelab/journeys.py", "services/db/accounts.py")


def test_the_journeys_definition_needs_only_the_standard_library(tmp_path):
    """The two files, laid out as in the Locust containers, import with no site-packages."""
    for name in DEFINITION_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    script = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import tracelab.journeys as j; "
        "print(len(j.JOURNEYS), j.JOURNEYS[0].request(1, 't').path)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(len(JOURNEYS)), "/api/users/1"]


def test_the_locustfile_has_no_journey_data_of_its_own():
    """No literal weight, status, path or credential: everything comes from tracelab.journeys."""
    module = ast.parse(LOCUSTFILE.read_text())
    literals = {
        node.value
        for node in ast.walk(module)
        if isinstance(node, ast.Constant) and not isinstance(node.value, str | None)
    }
    assert not literals & {j.weight for j in JOURNEYS}
    # 401 is the protocol's "token rejected" (log in again), not a journey's status.
    assert not literals & {j.expected_status for j in JOURNEYS} - {401}
    strings = {n.value for n in ast.walk(module) if isinstance(n, ast.Constant)}
    assert not {s for s in strings if isinstance(s, str) and s.startswith(("/api", "tracelab-"))}
    imported = {
        node.module for node in ast.walk(module) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert {"tracelab.journeys", "services.db.accounts"} <= imported


def test_seed_accounts_are_the_database_seeds():
    from services.db.seed import seed_user

    for n in (1, 42, 1000):
        assert accounts.seed_email(n) == seed_user(n).email


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
    assert BY_NAME["login"].request_name in names  # every user logs in on start
    assert BY_NAME["profile"].request_name in names
    assert names <= {j.request_name for j in JOURNEYS}
    for row in rows:
        assert int(row["Failure Count"]) == 0, row
    assert recorder.requests
    assert all(h.get("baggage") == SYNTHETIC_BAGGAGE for _, _, h in recorder.requests)
    assert not any("traceparent" in {k.lower() for k in h} for _, _, h in recorder.requests)
