"""Server-side drafts: the composer's text rides on the presence heartbeat, comes back on any browser, and is
gone once the message is sent."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.conftest import WS, Console, composer_text


def beat(c: Console, body: str, kind: str = "reply") -> str:
    c.get(c.ticket_url("export"))
    r = c.post(
        c.ticket_url("export", "/presence"), {"state": "replying", "body": body, "type": kind}, htmx=True
    )
    assert r.status_code == 200
    return str(r.text)


def test_a_draft_is_saved_and_offered_again(console: Console) -> None:
    answer = beat(console, "Half-written answer", "internal_note")
    assert 'id="draft-status" hx-swap-oob="true">Draft saved' in answer
    page = console.get(console.ticket_url("export")).text
    assert composer_text(page) == "Half-written answer" and "Your draft from" in page
    assert 'value="internal_note" id="type-note" checked' in page


def test_sending_drops_the_draft(console: Console) -> None:
    beat(console, "Final answer")
    r = console.post(console.ticket_url("export", "/reply"), {"body": "Final answer", "type": "reply"})
    assert r.status_code == 303
    page = console.get(console.ticket_url("export")).text
    assert composer_text(page) == "" and "Your draft from" not in page


def test_an_emptied_composer_discards_the_draft(console: Console) -> None:
    beat(console, "Something")
    assert "Draft saved" not in beat(console, "   ")
    assert composer_text(console.get(console.ticket_url("export")).text) == ""


def test_drafts_are_private_and_need_write_access(console: Console) -> None:
    beat(console, "Only mine")
    grants = [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "read:relationships"]}]
    raw, _ = console.core.tokens.create("reader", grants)
    with TestClient(console.client.app) as client:
        reader = Console(client, console.core, raw, console.seed)
        reader.sign_in()
        page = reader.get(reader.ticket_url("export")).text
        assert "Only mine" not in page
        assert "Draft saved" not in beat(reader, "I cannot reply")
    assert composer_text(console.get(console.ticket_url("export")).text) == "Only mine"


def test_the_heartbeat_includes_the_composer(console: Console) -> None:
    page = console.get(console.ticket_url("export")).text
    assert 'hx-include="#composer-body, #composer-form input[name=type]:checked"' in page
    assert "draft-change" in page
