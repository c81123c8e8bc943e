"""Macros in the composer: filled in for the ticket (plain placeholders only), applied with the message on
send through the same core services, refused cleanly when bad."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from deskbase.core.context import SYSTEM
from tests.web.conftest import WS, Console, composer_text


def macro(console: Console, **data: object) -> str:
    return str(console.core.records.create(WS, "macros", {"data": data}, SYSTEM)[0]["id"])


def use(console: Console, macro_id: str, body: str = "") -> str:
    console.get(console.ticket_url("export"))
    r = console.post(
        console.ticket_url("export", "/macro"), {"macro": macro_id, "body": body, "type": "reply"}, htmx=True
    )
    assert r.status_code == 200
    return str(r.text)


def test_the_composer_offers_the_workspace_macros(console: Console) -> None:
    macro(console, name="Ask for logs", shortcut="logs", body="Send logs")
    macro(console, name="Apology", body="Sorry")
    html = console.get(console.ticket_url("export")).text
    assert re.findall(
        r'<option value="[^"]+"(?: data-shortcut="(\w+)")?>([^<]+)</option>',
        html.split('id="macro"')[1].split("</select>")[0],
    ) == [
        ("", "Apology"),
        ("logs", "Ask for logs — /logs"),
    ]


def test_a_macro_fills_in_the_ticket_and_says_what_it_will_change(console: Console) -> None:
    mid = macro(
        console,
        name="Escalate",
        body="Hi {{customer.first_name}} ({{ customer.name }}), about {{ticket.subject}}: {{agent}}. "
        "{{ 7*7 }} {{customer.email}}",
        type="internal_note",
        set_status="in_progress",
        set_priority="urgent",
        add_tags=["engineering", "vip"],
    )
    html = use(console, mid)
    assert composer_text(html) == (
        "Hi Ana (Ana Garcia), about Export to CSV fails: admin. {{ 7*7 }} {{customer.email}}"
    )  # known placeholders only, plain text: anything else stays as written
    assert 'value="internal_note" id="type-note" checked' in html
    assert '<option value="in_progress" selected>' in html
    assert (
        "Macro <strong>Escalate</strong> filled in" in html
        and "sets priority <strong>Urgent</strong>" in html
    )
    assert "adds tags <strong>engineering, vip</strong>" in html
    assert console.ticket("export")["data"]["priority"] == "high"  # nothing written yet


def test_what_is_written_stays_and_the_macro_follows(console: Console) -> None:
    mid = macro(console, name="Sign-off", body="Best, {{agent}}")
    assert (
        composer_text(use(console, mid, "Thanks for the details."))
        == "Thanks for the details.\n\nBest, admin"
    )


def test_sending_applies_the_macro_changes_with_the_message(console: Console) -> None:
    before = len(console.core.records.query(WS, "responses", limit=100)["data"])
    r = console.post(
        console.ticket_url("export", "/reply"),
        {
            "body": "We are on it",
            "type": "reply",
            "status": "waiting",
            "then_priority": "urgent",
            "then_tags": "engineering, vip",
            "then_macro": "Escalate",
        },
    )
    assert r.status_code == 303
    data = console.ticket("export")["data"]
    assert (data["status"], data["priority"], data["tags"]) == ("waiting", "urgent", ["vip", "engineering"])
    assert len(console.core.records.query(WS, "responses", limit=100)["data"]) == before + 1


def test_a_bad_macro_change_is_refused_and_nothing_is_sent(console: Console) -> None:
    before = len(console.core.records.query(WS, "responses", limit=100)["data"])
    version = console.ticket("export")["version"]
    r = console.post(
        console.ticket_url("export", "/reply"), {"body": "x", "type": "reply", "then_priority": "asap"}
    )
    assert r.status_code == 422 and "&#39;asap&#39; is not a priority" in r.text
    assert len(console.core.records.query(WS, "responses", limit=100)["data"]) == before
    assert console.ticket("export")["version"] == version
    gone = console.post(console.ticket_url("export", "/macro"), {"macro": "no-such-macro"})
    assert gone.status_code == 422 and "That macro does not exist" in gone.text


def test_macros_need_reply_permission(console: Console) -> None:
    mid = macro(console, name="Apology", body="Sorry")
    grants = [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "read:relationships"]}]
    raw, _ = console.core.tokens.create("reader", grants)
    with TestClient(console.client.app) as client:
        reader = Console(client, console.core, raw, console.seed)
        reader.sign_in()
        assert 'id="macro"' not in reader.get(reader.ticket_url("export")).text
        reader.get(reader.ticket_url("export"))
        assert reader.post(reader.ticket_url("export", "/macro"), {"macro": mid}).status_code == 403
