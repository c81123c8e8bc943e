"""`deskbase teams put|list|show|delete` against a real server."""

from __future__ import annotations

from deskbase.core.context import SYSTEM
from tests.cli.cli_harness import Cli, Server


def test_put_list_show_delete(cli: Cli, server: Server, acme: str) -> None:
    ids = []
    for email in ("ana@acme.example", "ben@acme.example"):
        user = server.core.people.create(SYSTEM, {"email": email, "name": email.split("@")[0].title()})
        server.core.members.put(SYSTEM, acme, user["id"], "agent")
        ids.append(user["id"])
    out = cli(
        "teams", "put", "billing", "--workspace", acme, "--name", "Billing", "--rule", "round_robin",
        "--member", "ana@acme.example", "--member", "ben@acme.example:5",
    )  # fmt: skip
    assert out.stdout == "team billing: round_robin, 2 member(s)\n"
    shown = cli.json("teams", "show", "billing", "--workspace", acme)
    assert [(m["user"], m["capacity"]) for m in shown["members"]] == [(ids[0], None), (ids[1], 5)]
    listed = cli("teams", "list", "--workspace", acme).stdout
    assert "billing" in listed and "ana@acme.example, ben@acme.example:5" in listed
    bad = cli(
        "teams", "put", "x", "--workspace", acme, "--name", "X", "--member", "zed@nowhere.example", expect=1
    )
    assert bad.stderr.startswith("error: validation_failed: 'zed@nowhere.example' is not a member")
    assert cli("teams", "delete", "billing", "--workspace", acme).stdout == "deleted team billing\n"
    assert cli.json("teams", "list", "--workspace", acme)["data"] == []
