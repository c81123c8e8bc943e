"""Notification emails: a kind the user switched `email` on for is queued in the workspace's outbox and sent
by the real mail loop to a real SMTP server; kinds left at their default (email off) are not; a re-read of
the log queues nothing twice; answers to it never thread onto a ticket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from deskbase.core import loops
from deskbase.mail.tables import mail_outbox
from deskbase.notify.fanout import NAME
from deskbase.support import tickets
from tests.mail.sink import Sink, sink
from tests.notify.conftest import World


@pytest.fixture(scope="module")
def smtp() -> Iterator[Sink]:
    with sink() as s:
        yield s


def outbox(world: World, ws: str) -> list[dict]:
    r = world.people.api.get(f"/v1/workspaces/{ws}/mailboxes/support/outbox")
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_a_mention_is_mailed_when_the_user_asked_for_it(world: World, smtp: Sink) -> None:
    smtp.reset()
    ws = world.people.workspace()
    maria, tom = world.people.person(ws), world.people.person(ws)
    box = {"address": "help@acme.example", "name": "Acme Support", "outbound": smtp.outbound()}
    assert world.people.api.put(f"/v1/workspaces/{ws}/mailboxes/support", json=box).status_code == 201
    world.notes.set_preferences(world.actor(maria), {"mention": {"email": True}})
    t = world.ticket(ws, subject="Printer on fire")
    world.assign(ws, t, maria.email, world.actor(tom))  # assigned: email off by default
    note = {"body": "@Maria can you call them?", "type": "internal_note", "mentions": [maria.id]}
    tickets.add_response(world.people.core, ws, t["id"], note, world.actor(tom))
    world.drain()
    (got,) = smtp.wait_for(1)
    msg = got.msg
    assert got.rcpt == [maria.email] and msg["Auto-Submitted"] == "auto-generated"
    assert msg["Subject"].startswith("You were mentioned in an internal note: #")
    assert "Printer on fire" in msg["Subject"] and "@Maria can you call them?" in msg.get_content()
    assert [n["kind"] for n in world.mine(ws, maria)] == ["mention", "assigned"]  # in-app as well
    (row,) = outbox(world, ws)
    assert row["kind"] == "notify" and row["response_id"] is None
    core = world.people.core
    with core.db.tx() as tx:  # a re-read of the whole log queues nothing again
        loops.write_watermark(tx.conn, NAME, 0, core.clock)
    world.notes.fanout._watermark = None
    world.drain()
    assert len(outbox(world, ws)) == 1


def test_no_mailbox_no_email(world: World, smtp: Sink) -> None:
    smtp.reset()
    ws = world.people.workspace()
    maria, tom = world.people.person(ws), world.people.person(ws)
    world.notes.set_preferences(world.actor(maria), {"assigned": {"email": True}})
    world.assign(ws, world.ticket(ws), maria.email, world.actor(tom))
    world.drain()
    assert [n["kind"] for n in world.mine(ws, maria)] == ["assigned"]
    with world.people.core.db.read() as conn:
        queued = conn.execute(select(mail_outbox.c.id).where(mail_outbox.c.workspace_id == ws)).all()
    assert queued == []
