"""`deskbase workspaces update` against a real server: a merge of the settings, and the two-step switch."""

from __future__ import annotations

from tests.cli.cli_harness import Cli, Server


def test_update_merges_settings_and_switches_the_two_step_requirement(
    cli: Cli, server: Server, acme: str
) -> None:
    before = cli.json("workspaces", "get", acme)["settings"]
    assert cli("workspaces", "update", acme, "--require-two-factor").stdout == f"{acme}\n"
    after = cli.json("workspaces", "get", acme)["settings"]
    assert after == {**before, "require_two_factor": True}
    cli(
        "workspaces", "update", acme, "--no-require-two-factor", "--settings", '{"timezone": "Europe/Lisbon"}'
    )
    after = cli.json("workspaces", "get", acme)["settings"]
    assert after == {**before, "timezone": "Europe/Lisbon", "require_two_factor": False}
    assert cli.json("workspaces", "update", acme, "--name", "Acme", "--output", "json")["name"] == "Acme"
    assert "nothing to change" in cli("workspaces", "update", acme, expect=2).stderr
