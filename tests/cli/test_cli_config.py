"""Where the CLI finds server, token and workspace: flags, then DESKBASE_* env, then the `deskbase login` file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from deskbase.cli import config
from tests.cli.cli_harness import Cli, Server

NO_ENV = {"DESKBASE_URL": None, "DESKBASE_TOKEN": None, "DESKBASE_WORKSPACE": None}


def test_login_saves_a_private_file_later_commands_use(
    cli: Cli, server: Server, acme: str, tmp_path: Path
) -> None:
    out = cli("login", "--url", server.url, "--token", server.token, "--workspace", acme, env=NO_ENV)
    path = tmp_path / "config" / "config.json"
    assert out.stdout == f"logged in to {server.url} (1 workspaces visible); saved to {path}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"url": server.url, "token": server.token, "workspace": acme}
    # No flags, no environment: everything comes from the file, including the workspace.
    assert cli.json("collections", "get", "tickets", env=NO_ENV)["id"] == "tickets"


def test_login_verifies_before_saving(cli: Cli, server: Server, tmp_path: Path) -> None:
    out = cli("login", "--url", server.url, "--token", "dsk_wrong", env=NO_ENV, expect=1)
    assert out.stderr == "error: unauthorized: invalid token\n"
    assert not (tmp_path / "config" / "config.json").exists()


def test_login_asks_for_the_token(cli: Cli, server: Server, tmp_path: Path) -> None:
    cli("login", "--url", server.url, env=NO_ENV, input=server.token + "\n")
    assert json.loads((tmp_path / "config" / "config.json").read_text())["token"] == server.token


def test_environment_beats_the_file_and_flags_beat_the_environment(cli: Cli, server: Server) -> None:
    cli("login", "--url", server.url, "--token", server.token, env=NO_ENV)
    dead = "http://127.0.0.1:9"
    out = cli("workspaces", "list", env={**NO_ENV, "DESKBASE_URL": dead}, expect=1)
    assert out.stderr.startswith(f"error: unreachable: cannot reach deskbase at {dead}")
    cli("--url", server.url, "workspaces", "list", env={**NO_ENV, "DESKBASE_URL": dead})


def test_resolve_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DESKBASE_CONFIG_DIR", str(tmp_path))
    for name in NO_ENV:
        monkeypatch.delenv(name, raising=False)
    assert config.resolve() == config.Profile(url="http://127.0.0.1:8765", token=None, workspace=None)
    config.save("http://saved:1", "dsk_saved")
    monkeypatch.setenv("DESKBASE_WORKSPACE", "from-env")
    assert config.resolve(token="dsk_flag") == config.Profile("http://saved:1", "dsk_flag", "from-env")


def test_unreadable_config_file(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "config" / "config.json"
    path.parent.mkdir()
    path.write_text("{not json")
    out = cli("workspaces", "list", env=NO_ENV, expect=1)
    assert out.stderr.startswith(f"error: bad_config: cannot read {path}: ") and out.stderr.count("\n") == 1
