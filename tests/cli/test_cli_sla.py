"""`deskbase sla` against a real server: calendars, policies, a ticket's clocks, at-risk, simulation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.cli.cli_harness import Cli

POLICY = {
    "name": "VIP",
    "calendar_id": "weekdays",
    "match": {"field": "customer.plan", "op": "eq", "value": "enterprise"},
    "targets": {"first_response": {"urgent": {"seconds": 600}}},
}
CAL = {
    "name": "Weekdays",
    "timezone": "Europe/Madrid",
    "weekly": {d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
}


def test_sla_commands(cli: Cli) -> None:
    cli("workspaces", "create", "acme", "--name", "Acme")
    cli("template", "apply", "support", "-w", "acme")
    assert [c["id"] for c in cli.json("sla", "calendars", "list", "-w", "acme")["data"]] == ["business-hours"]
    assert cli(
        "sla", "calendars", "upsert", "weekdays", "-w", "acme", "-d", json.dumps(CAL)
    ).stdout.startswith("weekdays")
    cli("sla", "policies", "upsert", "vip", "-w", "acme", "-d", json.dumps(POLICY), "--position", "0")
    assert [p["id"] for p in cli.json("sla", "policies", "list", "-w", "acme")["data"]] == ["vip", "default"]
    bad = cli(
        "sla",
        "calendars",
        "upsert",
        "x",
        "-w",
        "acme",
        "-d",
        '{"timezone": "Nowhere/Land", "weekly": {}}',
        expect=1,
    )
    assert bad.stderr.startswith("error: validation_failed: ")
    tid = cli(
        "records",
        "upsert",
        "tickets",
        "-w",
        "acme",
        "--data",
        '{"subject": "down", "status": "open", "priority": "urgent"}',
    ).stdout.strip()
    clocks = cli.json("sla", "ticket", tid, "-w", "acme")
    assert clocks["policy"]["id"] == "default" and {i["metric"] for i in clocks["sla"]} >= {"first_response"}
    table = cli("sla", "ticket", tid, "-w", "acme").stdout
    assert "first_response" in table
    assert isinstance(cli.json("sla", "at-risk", "-w", "acme", "--within", "3d")["data"], list)
    now = datetime.now(UTC)
    sim = cli.json(
        "sla",
        "simulate",
        "-w",
        "acme",
        "--policy",
        json.dumps({**POLICY, "match": None}),
        "--start",
        (now - timedelta(days=1)).isoformat(),
        "--end",
        (now + timedelta(days=1)).isoformat(),
    )
    assert sim["tickets"] == 1
    assert len(cli.json("sla", "policies", "history", "default", "-w", "acme")["data"]) >= 2
    cli("sla", "policies", "delete", "vip", "-w", "acme")
    assert [p["id"] for p in cli.json("sla", "policies", "list", "-w", "acme")["data"]] == ["default"]
