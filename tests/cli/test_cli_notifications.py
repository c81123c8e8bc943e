"""`deskbase notifications list|read` against a real server, with a personal token (the notification loop is
stepped by the test, so what it stored is there without waiting)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deskbase.core.context import SYSTEM
from deskbase.notify.service import Notifications
from tests.cli.cli_harness import Cli, Server, running_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path / "data", notifications=False) as s:
        yield s


def drain(server: Server) -> None:
    fanout = server.core.extensions[Notifications].fanout
    for _ in range(100):
        if fanout.step() != 0.0:
            return
    raise AssertionError("the notification loop never caught up")


def test_list_unread_and_mark_read_one_or_all(cli: Cli, server: Server, acme: str) -> None:
    core = server.core
    maria = core.people.create(SYSTEM, {"email": "maria@acme.example", "name": "Maria"})["id"]
    core.members.put(SYSTEM, acme, maria, "agent")
    token, _ = core.tokens.create(
        "maria's", [{"scope": {"workspaces": ["*"]}, "permissions": ["*"]}], user_id=maria
    )
    subjects = ["VPN down", "Printer on fire", "Mail bounces"]
    for subject in subjects:
        data = {"subject": subject, "status": "open", "priority": "high", "assignee": "maria@acme.example"}
        core.records.create(acme, "tickets", {"data": data}, SYSTEM)
    drain(server)
    mine = {"DESKBASE_TOKEN": token}
    listed = cli("notifications", "list", "-w", acme, env=mine)
    assert all(s in listed.stdout for s in subjects) and "assigned" in listed.stdout
    assert listed.stderr.strip() == "3 unread"
    first = cli.json("notifications", "list", "-w", acme, "--unread", "-o", "json", env=mine)["data"][0]
    done = cli("notifications", "read", first["id"], "-w", acme, env=mine)
    assert done.stdout == f"marked {first['id']} read\n"
    unread = cli.json("notifications", "list", "-w", acme, "--unread", "-o", "json", env=mine)
    assert len(unread["data"]) == 2 and unread["unread"] == 2
    assert cli("notifications", "read", "--all", "-w", acme, env=mine).stdout == "marked 2 read (0 unread)\n"
    assert cli.json("notifications", "list", "-w", acme, "--unread", "-o", "json", env=mine)["data"] == []
    # one of ID or --all; a service token has no notifications; another's id is not found
    assert "ID" in cli("notifications", "read", "-w", acme, env=mine, expect=2).stderr
    refused = cli("notifications", "list", "-w", acme, expect=1)
    assert "belong to a person" in refused.stderr
    assert cli("notifications", "read", "nope", "-w", acme, env=mine, expect=1).stderr.startswith(
        "error: not_found"
    )
