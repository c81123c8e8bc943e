"""The README journey, end to end through `deskbase` against a real server."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli.cli_harness import SEED, Cli

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")
TICKET = '{"subject": "Cannot log in", "status": "open", "priority": "high", "channel": "email"}'


def test_readme_journey(cli: Cli, tmp_path: Path) -> None:
    assert cli("workspaces", "create", "acme", "--name", "Acme Support").stdout == "acme\n"
    assert "Acme Support" in cli("workspaces", "list").stdout
    assert cli.json("workspaces", "get", "acme")["name"] == "Acme Support"

    out = cli(
        "collections",
        "upsert",
        "tickets",
        "--workspace",
        "acme",
        "--schema",
        f"@{SEED / 'tickets.schema.json'}",
    )
    assert out.stdout.startswith("tickets (version ")
    applied = cli("template", "apply", "support", "--workspace", "acme").stdout
    assert applied.startswith("applied support: tickets, customers, responses, macros, submitted_by")
    assert [c["id"] for c in cli.json("collections", "list", "-w", "acme")["data"]] == [
        "customers",
        "macros",
        "responses",
        "tickets",
    ]
    assert "support" in cli("template", "list", "-w", "acme").stdout

    ticket = cli("records", "upsert", "tickets", "--workspace", "acme", "--data", TICKET).stdout
    assert UUID.match(ticket.strip()) and ticket.count("\n") == 1
    ticket = ticket.strip()
    customer = cli(
        "records",
        "upsert",
        "customers",
        "-w",
        "acme",
        "--data",
        '{"name": "Ada", "email": "ada@example.com", "plan": "pro"}',
    ).stdout.strip()

    record = cli.json("records", "get", "tickets", ticket, "-w", "acme")
    assert record["data"]["subject"] == "Cannot log in" and record["deleted"] is False

    link = cli(
        "relationships",
        "upsert",
        "--source",
        f"tickets/{ticket}",
        "--target",
        f"customers/{customer}",
        "--type",
        "submitted_by",
        "-w",
        "acme",
    ).stdout.strip()
    assert (
        cli.json("relationships", "list", "tickets", ticket, "--type", "submitted_by", "-w", "acme")["data"][
            0
        ]["id"]
        == link
    )

    patched = cli(
        "records", "patch", "tickets", ticket, "-w", "acme", "--data", '{"status": "resolved"}'
    ).stdout
    assert patched.startswith(f"{ticket} (version ")
    rows = cli.json(
        "records",
        "query",
        "tickets",
        "-w",
        "acme",
        "--filter",
        '{"field": "data.status", "op": "eq", "value": "resolved"}',
    )["data"]
    assert [r["id"] for r in rows] == [ticket]

    assert cli("records", "delete", "tickets", ticket, "-w", "acme").stdout == f"deleted tickets/{ticket}\n"
    gone = cli("records", "get", "tickets", ticket, "-w", "acme", expect=1)
    assert gone.stderr == f"error: not_found: record tickets/{ticket} not found\n"
    assert [h["op"] for h in cli.json("records", "history", "tickets", ticket, "-w", "acme")["data"]] == [
        "create",
        "update",
        "delete",
    ]
    # Deleting the ticket took its link with it.
    assert (
        cli.json("relationships", "list", "customers", customer, "--direction", "incoming", "-w", "acme")[
            "data"
        ]
        == []
    )
    feed = cli.json("changes", "-w", "acme")["data"]
    assert feed[0]["entity"] == "workspace" and {f["op"] for f in feed[-2:]} == {"delete"}


def test_workspace_lifecycle(cli: Cli) -> None:
    cli("workspaces", "create", "beta", "--name", "Beta", "--settings", '{"timezone": "Europe/Paris"}')
    assert cli.json("workspaces", "get", "beta")["settings"]["timezone"] == "Europe/Paris"
    cli("workspaces", "create", "beta", "--name", "Beta 2")
    assert cli.json("workspaces", "get", "beta")["name"] == "Beta 2"
    refused = cli("workspaces", "delete", "beta", input="n\n", expect=1)
    assert "Aborted" in refused.output
    assert cli("workspaces", "delete", "beta", "--yes").stdout == "deleted workspace beta\n"
    assert cli("workspaces", "get", "beta", expect=1).stderr.startswith("error: not_found: workspace 'beta'")


def test_collection_lifecycle(cli: Cli, acme: str, tmp_path: Path) -> None:
    schema = tmp_path / "notes.json"
    schema.write_text('{"type": "object", "properties": {"text": {"type": "string"}}}')
    out = cli.json(
        "collections",
        "upsert",
        "notes",
        "-w",
        acme,
        "--schema",
        f"@{schema}",
        "--name",
        "Notes",
        "--description",
        "Scratch",
        "--icon",
        "note",
        "--color",
        "#123456",
    )
    assert (out["name"], out["description"], out["icon"], out["color"]) == (
        "Notes",
        "Scratch",
        "note",
        "#123456",
    )
    cli("records", "upsert", "notes", "-w", acme, "--data", '{"text": "hello"}')
    stricter = '{"type": "object", "properties": {"text": {"type": "integer"}}}'
    conflict = cli("collections", "upsert", "notes", "-w", acme, "--schema", stricter, expect=1)
    assert conflict.stderr.startswith(
        "error: conflict: the new schema of 'notes' would make existing records"
    )
    cli("collections", "upsert", "notes", "-w", acme, "--schema", stricter, "--force")
    assert cli.json("collections", "get", "notes", "-w", acme)["json_schema"]["properties"]["text"] == {
        "type": "integer"
    }
    assert [h["op"] for h in cli.json("collections", "history", "notes", "-w", acme)["data"]] == [
        "create",
        "update",
    ]
    cli("collections", "delete", "notes", "-w", acme, "-y")
    assert cli("collections", "get", "notes", "-w", acme, expect=1).stderr.startswith("error: not_found:")
