"""`deskbase tokens create|list|revoke` and `deskbase whoami` against a real server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.cli.cli_harness import Cli, Server, write_json


def test_mint_use_list_revoke(cli: Cli, server: Server, acme: str) -> None:
    out = cli("tokens", "create", "ci-bot", "-w", acme, "-p", "read:records", "-p", "sql", "--expires", "30d")
    raw = out.stdout.strip()
    assert raw.startswith("dsk_") and "\n" not in raw
    assert "only time it is shown" in out.stderr
    me = json.loads(cli("whoami", "-o", "json", env={"DESKBASE_TOKEN": raw}).stdout)
    assert me["name"] == "ci-bot" and me["grants"] == [
        {"scope": {"workspaces": [acme]}, "permissions": ["read:records", "sql"]}
    ]
    expires = datetime.fromisoformat(me["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    listed = cli.json("tokens", "list")["data"]
    assert {t["name"] for t in listed} == {"admin", "ci-bot"} and raw not in json.dumps(listed)
    table = cli("tokens", "list").stdout
    assert "ci-bot" in table and "admin" in table
    assert cli("tokens", "revoke", me["id"]).stdout == f"revoked token {me['id']} (ci-bot)\n"
    denied = cli("whoami", env={"DESKBASE_TOKEN": raw}, expect=1)
    assert denied.stderr == "error: unauthorized: token revoked\n"


def test_grants_from_json_and_the_narrower_rule(cli: Cli, acme: str) -> None:
    grants = [
        {"scope": {"workspaces": [acme], "collections": ["tickets"]}, "permissions": ["admin"]},
    ]
    minted = cli.json("tokens", "create", "tickets-admin", "--grants", json.dumps(grants))
    scoped = minted["token"]
    assert minted["grants"] == grants
    wider = cli(
        "tokens",
        "create",
        "wider",
        "-w",
        acme,
        "-p",
        "read:records",
        env={"DESKBASE_TOKEN": scoped},
        expect=1,
    )
    assert wider.stderr.startswith("error: forbidden: a token mints only within the scope it administers")
    ok = cli(
        "tokens",
        "create",
        "narrow",
        "-w",
        acme,
        "-c",
        "tickets",
        "-p",
        "read:records",
        env={"DESKBASE_TOKEN": scoped},
    )
    assert ok.stdout.startswith("dsk_")
    bad = cli("tokens", "create", "x", "-w", acme, "-p", "read:everything", expect=1)
    assert bad.stderr.startswith("error: validation_failed: invalid grants: /grants/0/permissions/0")
    assert cli("tokens", "create", "x", "-w", acme, expect=2).exit_code == 2
    assert cli("tokens", "create", "x", "--grants", "[]", "-p", "sql", expect=2).exit_code == 2


def test_whoami_table(cli: Cli, server: Server) -> None:
    out = cli("whoami")
    assert "admin" in out.stdout and "is_admin" in out.stdout
    assert f"server: {server.url}" in out.stderr


def test_grants_file(cli: Cli, acme: str, tmp_path: Path) -> None:
    path = write_json(tmp_path / "g.json", [{"scope": {"workspaces": [acme]}, "permissions": ["sql"]}])
    assert cli("tokens", "create", "from-file", "--grants", path).stdout.startswith("dsk_")
