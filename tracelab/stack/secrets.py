"""The secrets of one stack, generated where a person has not set their own.

A stack's run directory keeps them in ``secrets/`` (0600): the admin API's
token (``admin-token``) and the key auth signs tokens with
(``auth-token-secret``). They are made once, on the stack's first ``up``, and
kept across restarts (``make clean`` removes them with the run directory). A
value set in the environment (``TRACELAB_ADMIN_TOKEN``, ``AUTH_TOKEN_SECRET``)
wins and is never written down.

(Compose and Kubernetes make theirs in ``mk/deploy.mk``: a Compose secret
file in ``.run/compose``, a Secret per cluster.)
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

# Environment variable -> file name under the secrets folder.
SECRETS = {"TRACELAB_ADMIN_TOKEN": "admin-token", "AUTH_TOKEN_SECRET": "auth-token-secret"}


def secrets_dir(run_dir: Path) -> Path:
    """``<run dir>/secrets``."""
    return run_dir / "secrets"


def _read_or_make(path: Path) -> str:
    if path.is_file():
        value = path.read_text().strip()
        if value:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    value = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value + "\n")
    return value


def write_secrets(folder: Path) -> dict[str, str]:
    """Every secret of :data:`SECRETS` in ``folder`` (made when missing), by variable."""
    return {variable: _read_or_make(folder / name) for variable, name in SECRETS.items()}


def stack_secrets(run_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The stack's secrets by variable: the environment's where set, else its own files."""
    made = write_secrets(secrets_dir(run_dir))
    return {name: environ.get(name, "").strip() or value for name, value in made.items()}


def read_admin_token(run_dir: Path, environ: Mapping[str, str]) -> str | None:
    """The admin token a stack runs with, without making one (None before its first ``up``)."""
    explicit = environ.get("TRACELAB_ADMIN_TOKEN", "").strip()
    if explicit:
        return explicit
    path = secrets_dir(run_dir) / SECRETS["TRACELAB_ADMIN_TOKEN"]
    return path.read_text().strip() or None if path.is_file() else None
