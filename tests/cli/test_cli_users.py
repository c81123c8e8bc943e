"""`deskbase users create|list|show|suspend|reactivate|reset-password|reset-totp` against a real server."""

from __future__ import annotations

import pyotp

from deskbase.core.context import SYSTEM
from tests.cli.cli_harness import Cli, Server


def test_create_list_show_suspend_and_reset(cli: Cli, server: Server, acme: str) -> None:
    out = cli("users", "create", "Maria@Example.com", "--name", "Maria", "--time-zone", "Europe/Lisbon")
    assert out.stdout.startswith("created user usr_") and "reset-password" in out.stderr
    made = cli.json("users", "show", "maria@example.com")
    assert (made["email"], made["time_zone"], made["has_password"]) == (
        "maria@example.com",
        "Europe/Lisbon",
        False,
    )
    listed = cli("users", "list").stdout
    assert "maria@example.com" in listed and "two_step" in listed.splitlines()[0]
    assert cli.json("users", "list")["data"][0]["two_factor"] == {"enabled": False}
    link = cli("users", "reset-password", "maria@example.com").stdout.strip()
    assert link.startswith(server.url + "/reset/dsr_")
    set_out = cli("users", "reset-password", made["id"], "--password-stdin", input="quartz meadow lantern\n")
    assert set_out.stdout == f"password set for user {made['id']}; their console sessions ended\n"
    weak = cli("users", "reset-password", made["id"], "--password-stdin", input="password\n", expect=1)
    assert weak.stderr.startswith("error: validation_failed: password not accepted")
    server.core.members.put(SYSTEM, acme, made["id"], "agent")
    raw, _ = server.core.tokens.create(
        "maria-cli", [{"scope": {"workspaces": ["*"]}, "permissions": ["*"]}], user_id=made["id"]
    )
    assert cli("users", "list", env={"DESKBASE_TOKEN": raw}).stdout.count("@") == 1
    assert cli("users", "suspend", "maria@example.com").stdout.startswith(f"suspended user {made['id']}")
    denied = cli("whoami", env={"DESKBASE_TOKEN": raw}, expect=1)
    assert denied.stderr == "error: unauthorized: token revoked\n"
    assert cli.json("users", "show", made["id"])["status"] == "suspended"
    assert cli("users", "reactivate", "maria@example.com").stdout.startswith("reactivated user")
    missing = cli("users", "show", "nobody@example.com", expect=1)
    assert missing.stderr == "error: not_found: no user with email 'nobody@example.com'\n"


def test_reset_totp_switches_a_users_second_factor_off(cli: Cli, server: Server) -> None:
    user = server.core.people.create(SYSTEM, {"email": "lost.phone@example.com"}, "copper harbour lamp")
    actor = server.core.people.actor(user["id"])
    secret = server.core.factors.begin(actor)["secret"]
    server.core.factors.confirm(actor, pyotp.TOTP(secret).now())
    assert server.core.factors.enabled(user["id"])
    out = cli("users", "reset-totp", "lost.phone@example.com")
    assert out.stdout.startswith(f"two-step sign-in of user {user['id']} is off")
    assert not server.core.factors.enabled(user["id"])
    raw, _ = server.core.tokens.create(
        "own", [{"scope": {"workspaces": ["*"]}, "permissions": ["*"]}], user_id=user["id"]
    )
    denied = cli("users", "reset-totp", user["id"], env={"DESKBASE_TOKEN": raw}, expect=1)
    assert denied.stderr.startswith("error: forbidden:")
