"""Where exercises and game days are recorded: one SQLite file in the stack's run directory.

SQLite because several processes write at once (the console's threads, a
learner's ``tracelab exercise submit``, the game-day runner) and the record
must survive a console restart. Writes take the database lock up front
(``BEGIN IMMEDIATE``); WAL mode lets readers go on meanwhile.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DB_NAME = "workshop.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,              -- exercise | gameday
    seed INTEGER NOT NULL,
    plan TEXT NOT NULL,              -- JSON: scenario + params, or the game day's timeline
    started_at REAL NOT NULL,
    stopped_at REAL,
    result TEXT                      -- JSON: what-if, report path...
);
CREATE TABLE IF NOT EXISTS switches (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    scenario TEXT NOT NULL,
    params TEXT NOT NULL,
    on_at REAL NOT NULL,
    off_at REAL
);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    learner TEXT NOT NULL,
    submitted_at REAL NOT NULL,
    answer TEXT NOT NULL,            -- JSON: service, operation, cause, trace
    correct INTEGER NOT NULL,
    scenario TEXT,                   -- the fault it was graded against
    grade TEXT NOT NULL              -- JSON: the per-field verdict
);
"""


class NoSession(LookupError):
    """No exercise or game day is running (or none has this id)."""


class SessionRunning(RuntimeError):
    """Another exercise or game day is running: one at a time."""


@dataclass(frozen=True)
class Switch:
    """A fault switched on at ``on_at`` (Unix seconds) and off at ``off_at`` (None: still on)."""

    scenario: str
    params: Mapping[str, Any]
    on_at: float
    off_at: float | None

    def covers(self, moment: float) -> bool:
        """Whether the fault was on at ``moment``."""
        return self.on_at <= moment and (self.off_at is None or moment <= self.off_at)


@dataclass(frozen=True)
class Session:
    """One exercise or game day."""

    id: str
    kind: str
    seed: int
    plan: Mapping[str, Any]
    started_at: float
    stopped_at: float | None
    result: Mapping[str, Any] | None

    @property
    def running(self) -> bool:
        """Not stopped yet."""
        return self.stopped_at is None


@dataclass(frozen=True)
class Submission:
    """One graded diagnosis."""

    id: int
    session_id: str
    learner: str
    submitted_at: float
    answer: Mapping[str, Any]
    correct: bool
    scenario: str | None
    grade: Mapping[str, Any]


class Store:
    """The workshop record of one stack (``<run dir>/workshop/workshop.sqlite``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / DB_NAME
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # --- sessions ------------------------------------------------------------------------
    def start(self, kind: str, seed: int, plan: Mapping[str, Any]) -> Session:
        """Record a new session; refused (:class:`SessionRunning`) while another one runs."""
        with self._write() as db:
            running = db.execute(
                "SELECT id, kind FROM sessions WHERE stopped_at IS NULL"
            ).fetchone()
            if running:
                raise SessionRunning(
                    f"a {running['kind']} is already running ({running['id']}): stop it first"
                )
            session_id = f"{kind[:2]}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
            db.execute(
                "INSERT INTO sessions (id, kind, seed, plan, started_at) VALUES (?, ?, ?, ?, ?)",
                (session_id, kind, seed, json.dumps(dict(plan)), time.time()),
            )
        return self.session(session_id)

    def stop(self, session_id: str, result: Mapping[str, Any] | None = None) -> Session:
        """Mark the session stopped (and every switch of it off) with its ``result``."""
        now = time.time()
        with self._write() as db:
            db.execute(
                "UPDATE sessions SET stopped_at = COALESCE(stopped_at, ?), result = ? WHERE id = ?",
                (now, json.dumps(dict(result or {})), session_id),
            )
            db.execute(
                "UPDATE switches SET off_at = ? WHERE session_id = ? AND off_at IS NULL",
                (now, session_id),
            )
        return self.session(session_id)

    def set_result(self, session_id: str, result: Mapping[str, Any]) -> None:
        """Replace the session's result document."""
        with self._write() as db:
            db.execute(
                "UPDATE sessions SET result = ? WHERE id = ?",
                (json.dumps(dict(result)), session_id),
            )

    @staticmethod
    def _session(row: sqlite3.Row) -> Session:
        return Session(
            row["id"],
            row["kind"],
            row["seed"],
            json.loads(row["plan"]),
            row["started_at"],
            row["stopped_at"],
            json.loads(row["result"]) if row["result"] else None,
        )

    def session(self, session_id: str) -> Session:
        """The session with this id (:class:`NoSession` if none)."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise NoSession(f"no exercise or game day {session_id!r}")
        return self._session(row)

    def current(self) -> Session | None:
        """The running session, else None."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM sessions WHERE stopped_at IS NULL").fetchone()
        return self._session(row) if row else None

    def latest(self) -> Session | None:
        """The running session, else the last one that ran."""
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM sessions ORDER BY stopped_at IS NULL DESC, started_at DESC LIMIT 1"
            ).fetchone()
        return self._session(row) if row else None

    # --- switches ------------------------------------------------------------------------
    def switched_on(
        self, session_id: str, scenario: str, params: Mapping[str, Any], at: float | None = None
    ) -> None:
        """Record that ``scenario`` went on (now, or ``at``)."""
        with self._write() as db:
            db.execute(
                "INSERT INTO switches (session_id, scenario, params, on_at) VALUES (?, ?, ?, ?)",
                (session_id, scenario, json.dumps(dict(params)), at or time.time()),
            )

    def switched_off(self, session_id: str, scenario: str, at: float | None = None) -> None:
        """Record that ``scenario`` went off (now, or ``at``)."""
        with self._write() as db:
            db.execute(
                "UPDATE switches SET off_at = ? "
                "WHERE session_id = ? AND scenario = ? AND off_at IS NULL",
                (at or time.time(), session_id, scenario),
            )

    def switches(self, session_id: str) -> list[Switch]:
        """Every switch of the session, in the order they went on."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM switches WHERE session_id = ? ORDER BY on_at", (session_id,)
            ).fetchall()
        return [
            Switch(r["scenario"], json.loads(r["params"]), r["on_at"], r["off_at"]) for r in rows
        ]

    # --- submissions ---------------------------------------------------------------------
    def add_submission(
        self,
        session_id: str,
        learner: str,
        answer: Mapping[str, Any],
        correct: bool,
        scenario: str | None,
        grade: Mapping[str, Any],
        at: float | None = None,
    ) -> Submission:
        """Record one graded diagnosis."""
        submitted_at = at or time.time()
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO submissions "
                "(session_id, learner, submitted_at, answer, correct, scenario, grade) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    learner,
                    submitted_at,
                    json.dumps(dict(answer)),
                    int(correct),
                    scenario,
                    json.dumps(dict(grade)),
                ),
            )
            row_id = int(cursor.lastrowid or 0)
        return Submission(
            row_id, session_id, learner, submitted_at, answer, correct, scenario, grade
        )

    def submissions(self, session_id: str) -> list[Submission]:
        """Every submission of the session, oldest first."""
        with self._connect() as db:
            rows: Sequence[sqlite3.Row] = db.execute(
                "SELECT * FROM submissions WHERE session_id = ? ORDER BY submitted_at, id",
                (session_id,),
            ).fetchall()
        return [
            Submission(
                r["id"],
                r["session_id"],
                r["learner"],
                r["submitted_at"],
                json.loads(r["answer"]),
                bool(r["correct"]),
                r["scenario"],
                json.loads(r["grade"]),
            )
            for r in rows
        ]
