"""A stack's secrets: made once per stack, private, kept across restarts, the environment wins."""

from __future__ import annotations

import stat

from tracelab.stack import config as cfg
from tracelab.stack.secrets import read_admin_token, secrets_dir, stack_secrets


def test_secrets_are_made_once_private_and_kept(tmp_path):
    assert read_admin_token(tmp_path, {}) is None  # nothing before the first up
    first = stack_secrets(tmp_path, {})
    assert set(first) == {"TRACELAB_ADMIN_TOKEN", "AUTH_TOKEN_SECRET"}
    assert all(len(value) >= 40 for value in first.values())
    assert first["TRACELAB_ADMIN_TOKEN"] != first["AUTH_TOKEN_SECRET"]
    assert stack_secrets(tmp_path, {}) == first  # the same on the next up
    folder = secrets_dir(tmp_path)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_admin_token(tmp_path, {}) == first["TRACELAB_ADMIN_TOKEN"]
    # Another stack gets other secrets.
    assert stack_secrets(tmp_path / "other", {}) != first


def test_a_secret_set_in_the_environment_wins_and_is_not_written(tmp_path):
    chosen = stack_secrets(tmp_path, {"TRACELAB_ADMIN_TOKEN": "mine"})
    assert chosen["TRACELAB_ADMIN_TOKEN"] == "mine"
    assert "mine" not in (secrets_dir(tmp_path) / "admin-token").read_text()
    assert read_admin_token(tmp_path, {"TRACELAB_ADMIN_TOKEN": "mine"}) == "mine"


def test_every_service_and_the_console_get_them_but_the_console_no_signing_key(tmp_path):
    ports = cfg.resolve_ports({})
    secrets = stack_secrets(tmp_path, {})
    service = cfg.service_env("auth", ports, "dsn", {}, None, secrets)
    assert service["AUTH_TOKEN_SECRET"] == secrets["AUTH_TOKEN_SECRET"]
    assert service["TRACELAB_ADMIN_TOKEN"] == secrets["TRACELAB_ADMIN_TOKEN"]
    console = cfg.console_env(ports, tmp_path, {"AUTH_TOKEN_SECRET": "leak"}, secrets)
    assert console["TRACELAB_ADMIN_TOKEN"] == secrets["TRACELAB_ADMIN_TOKEN"]
    assert "AUTH_TOKEN_SECRET" not in console
