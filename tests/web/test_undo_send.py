"""Issue #17 item 6, undo-send: a console reply is held `reply_hold_seconds` in the store before it is
committed; Undo takes it back into the composer; a closed tab neither loses nor repeats it (the held-replies
loop sends it, exactly once, under the response id chosen when it was held)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deskbase.config import Settings
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.core.scope import ReadScope
from deskbase.server import build
from deskbase.support import held
from deskbase.support.tickets import conversation
from tests.web.conftest import WS, Console, seed_workspace
from tests.web.test_undo import toast_form

HOLD = 10


@pytest.fixture
def holding(tmp_path: Path, clock: FixedClock) -> Iterator[Console]:
    """Signed in on a seeded workspace whose console holds replies for 10 s (no background loop: the tests
    send what is due themselves, at the clock's time)."""
    settings = Settings(data_dir=str(tmp_path), replicate=False, sla_scheduler=False, reply_hold_seconds=HOLD)
    core, app = build(settings, clock)
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    seed = seed_workspace(core)
    with TestClient(app, raise_server_exceptions=True) as client:
        c = Console(client, core, raw, seed)
        assert c.sign_in().status_code == 303
        yield c


def messages(c: Console, key: str = "export") -> list[dict[str, Any]]:
    actor = c.core.tokens.authenticate(c.token)
    return conversation(c.core, ReadScope(actor, WS), c.seed.tickets[key])


def reply(c: Console, body: str, htmx: bool = True, **extra: str) -> Any:
    c.get(c.ticket_url("export"))
    return c.post(c.ticket_url("export", "/reply"), {"body": body, "type": "reply", **extra}, htmx=htmx)


def later(c: Console, clock: FixedClock, seconds: float = HOLD + 1) -> int:
    clock.advance(seconds=seconds)
    return held.send_due(c.core)


def test_a_reply_is_held_then_sent_once_even_if_the_tab_is_closed(
    holding: Console, clock: FixedClock
) -> None:
    before = len(messages(holding))
    r = reply(holding, "Fixed in 2.4.1", status="waiting")
    assert r.status_code == 200 and "Reply sends in 10 s." in r.text
    assert "Your reply sends in 10 s." in r.text and "/reply/undo" in r.text
    assert len(messages(holding)) == before  # nothing committed yet
    assert (
        holding.core.drafts.get(
            WS, holding.seed.tickets["export"], holding.core.tokens.authenticate(holding.token).id
        )
        is None
    )
    assert later(holding, clock, HOLD - 2) == 0  # not yet due
    assert later(holding, clock, 3) == 1  # the page is gone: the loop sends it
    conv = messages(holding)
    assert len(conv) == before + 1 and conv[-1]["data"]["body"] == "Fixed in 2.4.1"
    _, fields = toast_form(r.text)
    assert conv[-1]["id"] == fields["hold"].partition("-")[2]  # the id chosen when it was held
    assert holding.ticket("export")["data"]["status"] == "waiting"  # what was chosen with it
    assert later(holding, clock) == 0 and len(messages(holding)) == before + 1


def test_undo_puts_the_message_back_in_the_composer_and_sends_nothing(
    holding: Console, clock: FixedClock
) -> None:
    before = len(messages(holding))
    r = reply(holding, "Oops, wrong ticket", status="waiting")
    action, fields = toast_form(r.text)
    back = holding.post(action, fields, htmx=True)
    assert back.status_code == 200
    assert "Oops, wrong ticket</textarea>" in back.text
    assert re.search(r'<option value="waiting" selected>', back.text.split('id="composer"')[1])
    actor_id = holding.core.tokens.authenticate(holding.token).id
    draft = holding.core.drafts.get(WS, holding.seed.tickets["export"], actor_id)
    assert draft is not None and draft.body == "Oops, wrong ticket"
    assert later(holding, clock) == 0
    assert len(messages(holding)) == before and holding.ticket("export")["data"]["status"] == "open"
    again = holding.post(action, fields)  # without htmx (which gets the composer and a 200)
    assert again.status_code == 409 and "Too late to undo" in again.text


def test_undo_after_the_send_began_is_refused(holding: Console, clock: FixedClock) -> None:
    r = reply(holding, "On its way")
    action, fields = toast_form(r.text)
    assert later(holding, clock) == 1
    refused = holding.post(action, fields, htmx=True)
    assert "Too late to undo" in refused.text.split('id="composer"')[1]
    assert messages(holding)[-1]["data"]["body"] == "On its way"


def test_a_send_repeated_after_a_crash_does_not_duplicate(holding: Console, clock: FixedClock) -> None:
    before = len(messages(holding))
    reply(holding, "Only once")
    clock.advance(seconds=HOLD + 1)
    [(key, hold_id)] = held.due(holding.core)
    h = held._claim(holding.core, key, hold_id)
    assert h is not None
    assert len(messages(holding)) == before
    held.send(holding.core, h)
    held.send(holding.core, h)  # as if the process died after committing, before forgetting the entry
    assert [m["data"]["body"] for m in messages(holding)[before:]] == ["Only once"]


def test_a_message_that_can_no_longer_be_sent_becomes_its_authors_draft(
    holding: Console, clock: FixedClock
) -> None:
    grants = [{"scope": {"workspaces": [WS]}, "permissions": ["*"]}]
    raw, info = holding.core.tokens.create("temp", grants)
    holding.client.cookies.clear()
    assert holding.sign_in(raw).status_code == 303
    before = len(messages(holding))
    reply(holding, "Kept, not lost")
    holding.core.tokens.revoke(SYSTEM, info["id"])
    assert later(holding, clock) == 1
    assert len(messages(holding)) == before
    draft = holding.core.drafts.get(WS, holding.seed.tickets["export"], info["id"])
    assert draft is not None and draft.body == "Kept, not lost"


def test_someone_else_cannot_take_my_message_back(holding: Console, clock: FixedClock) -> None:
    r = reply(holding, "Mine")
    action, fields = toast_form(r.text)
    raw, _ = holding.core.tokens.create("other", [{"scope": {"workspaces": [WS]}, "permissions": ["*"]}])
    with TestClient(holding.client.app) as client:
        other = Console(client, holding.core, raw, holding.seed)
        other.sign_in()
        other.get(holding.ticket_url("export"))
        assert other.post(action, fields).status_code == 409
    assert later(holding, clock) == 1 and messages(holding)[-1]["data"]["body"] == "Mine"


def test_without_scripts_the_page_offers_undo_and_send_and_next_names_the_ticket(holding: Console) -> None:
    r = reply(holding, "No JS", htmx=False)
    assert r.status_code == 303 and "held=" in r.headers["location"]
    page = holding.get(r.headers["location"]).text
    assert "Your reply sends in" in page
    action, fields = toast_form(page)
    assert holding.post(action, fields).status_code == 303
    nxt = holding.ticket_url("dark")
    r = reply(holding, "And next", htmx=False, next=nxt)
    assert r.status_code == 303 and r.headers["location"].startswith(nxt + "?held=")
    number = holding.ticket("export")["number"]
    assert f"Your reply to #{number} sends in" in holding.get(r.headers["location"]).text


def test_send_and_next_back_to_the_queue_still_offers_undo(holding: Console) -> None:
    """No ticket left: "Send and next" lands on the queue, which offers the held reply's Undo (by its author)."""
    queue = f"/w/{WS}/queue?view=all&q=csv"
    r = reply(holding, "Last one", htmx=False, next=queue)
    assert r.status_code == 303 and r.headers["location"].startswith(queue + "&held=")
    assert "held_on=" in r.headers["location"]
    page = holding.get(r.headers["location"]).text
    number = holding.ticket("export")["number"]
    assert f"Your reply to #{number} sends in" in page and "Export to CSV fails" in page
    action, fields = toast_form(page)
    raw, _ = holding.core.tokens.create("other", [{"scope": {"workspaces": [WS]}, "permissions": ["*"]}])
    with TestClient(holding.client.app) as client:
        other = Console(client, holding.core, raw, holding.seed)
        other.sign_in()
        assert "sends in" not in other.get(r.headers["location"]).text  # someone else's held reply
    assert holding.post(action, fields).status_code == 303
    assert "Last one" in holding.get(holding.ticket_url("export")).text  # back in the composer
    assert (
        held.pending(holding.core, holding.core.tokens.authenticate(holding.token).id, fields["hold"]) is None
    )
