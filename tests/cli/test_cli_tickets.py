"""`deskbase tickets`: a ticket by number or id, its conversation, replies and notes, against a real server."""

from __future__ import annotations

from tests.cli.cli_harness import Cli

TICKET = '{"subject": "Cannot log in", "status": "open", "priority": "high"}'


def test_tickets_by_number(cli: Cli) -> None:
    cli("workspaces", "create", "acme", "--name", "Acme")
    cli("template", "apply", "support", "-w", "acme")
    first = cli("records", "upsert", "tickets", "-w", "acme", "--data", TICKET).stdout.strip()
    cli("records", "upsert", "tickets", "-w", "acme", "--data", TICKET)
    assert cli.json("tickets", "get", "2", "-w", "acme")["number"] == 2
    assert cli.json("tickets", "get", "#1", "-w", "acme")["id"] == first
    assert cli.json("tickets", "get", first, "-w", "acme")["number"] == 1
    table = cli("tickets", "get", "1", "-w", "acme").stdout
    assert "number" in table and "Cannot log in" in table
    reply = cli("tickets", "reply", "1", "-w", "acme", "--body", "On it", "--author", "maria").stdout.strip()
    assert reply and "\n" not in reply
    cli("tickets", "reply", "#1", "-w", "acme", "--body", "Check SSO", "--note")
    rows = cli("tickets", "conversation", "1", "-w", "acme", "-o", "csv").stdout.splitlines()
    assert rows[0] == "at,kind,author,body" and rows[1].endswith(",agent,maria,On it")
    assert rows[2].split(",")[1] == "note"
    missing = cli("tickets", "get", "99", "-w", "acme", expect=1)
    assert "no tickets record numbered 99" in missing.stderr and missing.stderr.count("\n") == 1
