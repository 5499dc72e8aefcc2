"""A private PostgreSQL cluster in ``.run/pg``, driven by the machine's initdb/pg_ctl.

When running as root (CI does), every server command runs as the
``postgres`` system user through ``runuser`` and the data directory belongs
to that user: PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tracelab.stack.errors import MissingBinaryError, StackError
from tracelab.stack.logtail import tail_lines
from tracelab.stack.ports import LOCALHOST
from tracelab.stack.process import ProcessRef, stop_groups, wait_gone

PG_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: install them, e.g. "
    "`apt-get install postgresql-15` (Debian/Ubuntu) or `dnf install postgresql15-server`, "
    "or point PG_BIN_DIR at their directory"
)
SERVER_USER = "postgres"
DB_NAME = DB_USER = DB_PASSWORD = "tracelab"
# Unix socket paths are limited to 107 bytes on Linux.
_MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class PgBinaries:
    """The server programs the runner uses."""

    initdb: Path
    pg_ctl: Path


def find_pg_binaries(environ: Mapping[str, str] | None = None) -> PgBinaries:
    """Locate initdb and pg_ctl: ``$PG_BIN_DIR``, then PATH, then /usr/lib/postgresql/*/bin."""
    env = os.environ if environ is None else environ
    candidates: list[Path] = []
    if env.get("PG_BIN_DIR"):
        candidates.append(Path(env["PG_BIN_DIR"]))
    on_path = shutil.which("pg_ctl", path=env.get("PATH"))
    if on_path:
        candidates.append(Path(on_path).parent)
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(Path(p) for p in versions)
    for directory in candidates:
        initdb, pg_ctl = directory / "initdb", directory / "pg_ctl"
        if os.access(initdb, os.X_OK) and os.access(pg_ctl, os.X_OK):
            return PgBinaries(initdb, pg_ctl)
    raise MissingBinaryError(PG_HINT)


def database_url(port: int) -> str:
    """Return the DSN of the local tracelab database on ``port``."""
    return f"postgresql://{DB_USER}:{DB_PASSWORD}@{LOCALHOST}:{port}/{DB_NAME}"


def postmaster_ref(data_dir: Path) -> ProcessRef | None:
    """The process ``<data_dir>/postmaster.pid`` names, if that pid exists (alive or not)."""
    try:
        first = (data_dir / "postmaster.pid").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return ProcessRef.of(int(first)) if first.strip().isdigit() else None


def running_as_root() -> bool:
    """True when this process has uid 0."""
    return os.geteuid() == 0


class PostgresCluster:
    """One data directory, one server: initialise, start, create the app database, stop."""

    def __init__(self, data_dir: Path, log_path: Path, binaries: PgBinaries) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.binaries = binaries
        self.as_root = running_as_root()

    # -- helpers -----------------------------------------------------------------
    def _argv(self, *argv: str | Path) -> list[str]:
        prefix = ["runuser", "-u", SERVER_USER, "--"] if self.as_root else []
        return [*prefix, *(str(a) for a in argv)]

    def _chown(self, path: Path) -> None:
        if self.as_root:
            shutil.chown(path, SERVER_USER, SERVER_USER)

    @property
    def socket_dir(self) -> Path:
        """Directory of the server's unix socket: the data dir unless its path is too long."""
        if len(str(self.data_dir)) + len("/.s.PGSQL.65535") <= _MAX_SOCKET_PATH:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:10]
        return Path(tempfile.gettempdir()) / f"tracelab-pg-{digest}"

    def check_prerequisites(self) -> None:
        """Fail early, in one line, when the server user cannot work in the run directory."""
        if not self.as_root:
            return
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise StackError(
                "running as root needs the `postgres` system user for the server "
                "(installing postgresql-15 creates it): `useradd --system postgres`"
            ) from None
        if shutil.which("runuser") is None:
            raise MissingBinaryError("running as root needs `runuser` (util-linux) for PostgreSQL")
        parent = self.data_dir.parent
        parent.mkdir(parents=True, exist_ok=True)
        probe = subprocess.run(self._argv("test", "-x", parent), capture_output=True)
        if probe.returncode != 0:
            raise StackError(
                f"user postgres cannot reach {parent} (a parent directory is not "
                "world-searchable): use a run directory such as /tmp/tracelab-run "
                "(TRACELAB_RUN_DIR) or `chmod o+x` the parents"
            )

    def is_initialized(self) -> bool:
        """True when the data directory holds a cluster."""
        return (self.data_dir / "PG_VERSION").is_file()

    def postmaster(self) -> ProcessRef | None:
        """The running server process of this data directory, if any."""
        ref = postmaster_ref(self.data_dir)
        return ref if ref is not None and ref.alive() else None

    def _clear_stale_locks(self) -> None:
        """Remove the lock files of a server that was killed and is now gone or a zombie.

        PostgreSQL refuses to start while the pid in ``postmaster.pid`` (or in a
        socket's ``.s.PGSQL.<port>.lock``) exists, and an unreaped zombie still
        exists: a killed server would otherwise block its own restart.
        """
        candidates = [self.data_dir / "postmaster.pid", *self.socket_dir.glob(".s.PGSQL.*.lock")]
        for lock in candidates:
            try:
                first = lock.read_text().splitlines()[0].strip()
            except (FileNotFoundError, IndexError, PermissionError):
                continue
            ref = ProcessRef.of(int(first)) if first.isdigit() else None
            if ref is None or not ref.alive():
                lock.unlink(missing_ok=True)

    def _prepare_log(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.touch()
        self._chown(self.log_path)

    def _run(self, argv: list[str], what: str, timeout: float) -> None:
        with self.log_path.open("ab") as log:
            result = subprocess.run(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
            )
        if result.returncode != 0:
            last = (tail_lines(self.log_path, 1) or ["(no output)"])[-1].strip()
            raise StackError(
                f"postgres: {what} failed (exit {result.returncode}): {last}; see {self.log_path}"
            )

    # -- lifecycle -----------------------------------------------------------------
    def initialize(self) -> None:
        """Run initdb once (a no-op when the cluster exists)."""
        if self.is_initialized():
            return
        self._prepare_log()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self._chown(self.data_dir)
        self._run(
            self._argv(
                self.binaries.initdb,
                "-D",
                self.data_dir,
                "-U",
                SERVER_USER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ),
            "initdb",
            timeout=120,
        )

    def start(self, port: int, wait_timeout: int) -> subprocess.Popen[bytes]:
        """Start the server on 127.0.0.1:``port``; returns ``pg_ctl start -w`` still waiting.

        ``pg_ctl`` exits 0 once the server accepts connections and non-zero when it
        failed to come up, so the caller polls it alongside the other components.
        """
        self._prepare_log()
        self._clear_stale_locks()
        socket_dir = self.socket_dir
        if socket_dir != self.data_dir:
            socket_dir.mkdir(mode=0o700, exist_ok=True)
            self._chown(socket_dir)
        options = " ".join(
            [
                f"-p {port}",
                f"-h {LOCALHOST}",
                f"-k {shlex.quote(str(socket_dir))}",
            ]
        )
        argv = self._argv(
            self.binaries.pg_ctl,
            "start",
            "-D",
            self.data_dir,
            "-l",
            self.log_path,
            "-w",
            "-t",
            str(wait_timeout),
            "-o",
            options,
        )
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def create_app_database(self, port: int) -> str:
        """Create the ``tracelab`` role and database if missing; return the app DSN."""
        import psycopg
        from psycopg import sql

        admin = {"host": str(self.socket_dir), "port": port, "user": SERVER_USER}
        with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [DB_USER]).fetchone():
                conn.execute(
                    sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(DB_USER), sql.Literal(DB_PASSWORD)
                    )
                )
            else:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(DB_USER), sql.Literal(DB_PASSWORD)
                    )
                )
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]
            ).fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(DB_NAME), sql.Identifier(DB_USER)
                    )
                )
        return database_url(port)

    def stop(self, timeout: int = 20) -> None:
        """``pg_ctl stop -m fast``; SIGKILL the server if that fails. A no-op when stopped."""
        ref = self.postmaster()
        if ref is None:
            return
        self._prepare_log()
        argv = self._argv(
            self.binaries.pg_ctl,
            "stop",
            "-D",
            self.data_dir,
            "-m",
            "fast",
            "-w",
            "-t",
            str(timeout),
        )
        try:
            self._run(argv, "pg_ctl stop", timeout=timeout + 5)
        except (StackError, subprocess.TimeoutExpired):
            stop_groups([ref], timeout=1.0)
            return
        # pg_ctl returns once postmaster.pid is gone; the process exits just after.
        proc = ref.process()
        if proc is not None and wait_gone([proc], timeout=5.0):
            stop_groups([ref], timeout=1.0)
