""" "New since you looked": the queue marks a ticket an agent opened before when someone else touched it since."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from deskbase.core.context import SYSTEM
from deskbase.support.tickets import add_response
from tests.web.conftest import WS, Console

QUEUE = f"/w/{WS}/queue?view=all"


def marked(console: Console) -> list[str]:
    html = console.get(QUEUE).text
    return re.findall(r'<a href="[^"]+">([^<]+)</a> <span class="new-mark"', html)


def test_a_customer_reply_marks_an_opened_ticket_until_it_is_opened_again(console: Console) -> None:
    assert marked(console) == []  # never opened: the queue itself is the list of those
    console.get(console.ticket_url("export"))
    assert marked(console) == []
    add_response(
        console.core,
        WS,
        console.seed.tickets["export"],
        {"body": "Any news?", "author": "ana@globex.example"},
        SYSTEM,
    )
    assert marked(console) == ["Export to CSV fails"]
    assert 'class="row unread"' in console.get(QUEUE).text
    console.get(console.ticket_url("export"))
    assert marked(console) == []


def test_a_field_change_by_someone_else_marks_it(console: Console) -> None:
    console.get(console.ticket_url("dark"))
    console.core.records.patch(WS, "tickets", console.seed.tickets["dark"], {"priority": "high"}, SYSTEM)
    assert marked(console) == ["Dark mode please"]


def test_my_own_console_changes_are_seen(console: Console) -> None:
    console.get(console.ticket_url("export"))
    assert (
        console.post(console.ticket_url("export", "/reply"), {"body": "On it", "type": "reply"}).status_code
        == 303
    )
    console.post(console.ticket_url("export", "/edit"), {"panel": "props", "priority": "urgent"})
    assert marked(console) == []
    console.get(QUEUE)
    body = {
        "csrf": console.csrf(),
        "view": "all",
        "bulk_status": "in_progress",
        "ids": [console.seed.tickets["export"]],
    }
    assert console.client.post(f"/w/{WS}/queue/bulk", data=body, follow_redirects=False).status_code == 303
    assert marked(console) == []


def test_marks_are_per_agent(console: Console) -> None:
    grants = [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "read:relationships"]}]
    raw, _ = console.core.tokens.create("bea", grants)
    # a second browser on the same server (no second lifespan: the server is already running)
    other = Console(TestClient(console.client.app), console.core, raw, console.seed)
    other.sign_in()
    other.get(other.ticket_url("export"))
    console.get(console.ticket_url("login"))
    console.core.records.patch(WS, "tickets", console.seed.tickets["export"], {"priority": "low"}, SYSTEM)
    console.core.records.patch(WS, "tickets", console.seed.tickets["login"], {"priority": "low"}, SYSTEM)
    assert marked(other) == ["Export to CSV fails"]
    assert marked(console) == ["Login loop after reset"]
