"""Presence (who else has the ticket open, and who is replying) and the collision check on send."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.support.tickets import add_response
from tests.web.conftest import AGENT, WS, Console

GRANTS = [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "read:relationships"]}]


@pytest.fixture
def colleague(console: Console) -> Iterator[Console]:
    """A second agent, with their own token and session, on the same server."""
    raw, _ = console.core.tokens.create("bea", GRANTS)
    with TestClient(console.client.app) as client:
        other = Console(client, console.core, raw, console.seed)
        assert other.sign_in().status_code == 303
        other.core.preferences.update(other.core.tokens.authenticate(raw).id, {"me": "bea@acme.example"})
        yield other


def beat(c: Console, key: str, state: str = "viewing") -> str:
    c.get(c.ticket_url(key))  # the page (and its CSRF cookie)
    r = c.post(c.ticket_url(key, "/presence"), {"state": state}, htmx=True)
    assert r.status_code == 200
    return " ".join(re.sub(r"<[^>]+>", " ", r.text).split())


def test_agents_see_each_other_and_who_is_replying(
    console: Console, colleague: Console, clock: FixedClock
) -> None:
    assert beat(console, "export") == ""
    assert beat(colleague, "export") == "admin is viewing"
    assert beat(console, "export", "replying") == "bea@acme.example is viewing"
    assert beat(colleague, "export") == "admin is replying — check before you send"
    assert beat(colleague, "dark") == ""  # another ticket: nobody
    clock.advance(seconds=70)  # admin stopped beating: gone after the TTL
    assert beat(colleague, "export") == ""


def test_leaving_the_page_ends_presence_at_once(console: Console, colleague: Console) -> None:
    beat(console, "export")
    assert console.post(console.ticket_url("export", "/presence/leave")).status_code == 204
    assert beat(colleague, "export") == ""


def test_presence_is_checked_like_any_read(console: Console, colleague: Console) -> None:
    colleague.get(colleague.ticket_url("export"))
    no_csrf = colleague.post(colleague.ticket_url("export", "/presence"), {"state": "viewing"}, csrf=False)
    assert no_csrf.status_code == 403
    missing = colleague.post(f"/w/{WS}/tickets/nope/presence", {"state": "viewing"})
    assert missing.status_code == 404
    outsider = colleague.post("/w/other/tickets/nope/presence", {"state": "viewing"})
    assert outsider.status_code in (403, 404)


def test_the_ticket_page_has_the_presence_heartbeat(console: Console) -> None:
    html = console.get(console.ticket_url("export")).text
    assert 'id="presence"' in html and 'hx-trigger="load, every 20s, presence-change, draft-change"' in html
    assert 'name="state" id="presence-state" value="viewing"' in html


def last_seen(html: str) -> str:
    m = re.search(r'name="seen" value="([^"]*)"', html)
    assert m
    return m.group(1)


def messages(console: Console) -> int:
    return len(re.findall(r'<li class="msg msg-', console.get(console.ticket_url("export")).text))


def test_a_reply_that_crossed_a_new_message_waits_for_a_confirm(console: Console) -> None:
    seen = last_seen(console.get(console.ticket_url("export")).text)
    console.core.clock.advance(minutes=1)  # type: ignore[attr-defined]
    add_response(
        console.core,
        WS,
        console.seed.tickets["export"],
        {"body": "Any news??", "author": "ana@globex.example"},
        SYSTEM,
    )
    before = messages(console)
    r = console.post(
        console.ticket_url("export", "/reply"), {"body": "We are on it", "type": "reply", "seen": seen}
    )
    assert r.status_code == 409 and "1 new message arrived while you were writing" in r.text
    assert "Any news??" in r.text and "We are on it" in r.text  # the draft is kept
    assert messages(console) == before  # nothing was sent
    htmx = console.post(
        console.ticket_url("export", "/reply"),
        {"body": "We are on it", "type": "reply", "seen": seen},
        htmx=True,
    )
    assert htmx.status_code == 200 and 'id="collision"' in htmx.text and messages(console) == before
    sent = console.post(
        console.ticket_url("export", "/reply"),
        {"body": "We are on it", "type": "reply", "seen": seen, "confirm": "1"},
    )
    assert sent.status_code == 303 and messages(console) == before + 1


def test_my_own_messages_and_an_up_to_date_page_send_at_once(console: Console) -> None:
    console.core.preferences.update(console.core.tokens.authenticate(console.token).id, {"me": AGENT})
    seen = last_seen(console.get(console.ticket_url("export")).text)
    add_response(
        console.core,
        WS,
        console.seed.tickets["export"],
        {"body": "from another tab", "author": AGENT},
        SYSTEM,
    )
    r = console.post(
        console.ticket_url("export", "/reply"), {"body": "one more", "type": "reply", "seen": seen}
    )
    assert r.status_code == 303
    fresh = last_seen(console.get(console.ticket_url("export")).text)
    r = console.post(
        console.ticket_url("export", "/reply"), {"body": "and another", "type": "reply", "seen": fresh}
    )
    assert r.status_code == 303
