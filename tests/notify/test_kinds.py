"""Each kind of notification, derived by the loop from real writes: who is told, who is not (the writer, a
member of another workspace, free text that names nobody), and that a re-read tells nobody twice."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from deskbase.core import loops
from deskbase.core.context import SYSTEM
from deskbase.core.errors import ValidationFailed
from deskbase.notify.fanout import NAME
from deskbase.notify.tables import notifications
from deskbase.support import tickets
from deskbase.support.service import SlaService
from tests.notify.conftest import World


@pytest.fixture(scope="module")
def world(stored_world: World) -> World:
    """Every rule here runs on SQLite and on PostgreSQL."""
    return stored_world


def kinds(rows: list[dict]) -> list[str]:
    return [r["kind"] for r in rows]


def test_assigned_to_you_by_someone_else(world: World) -> None:
    ws = world.people.workspace()
    maria, tom = world.people.person(ws), world.people.person(ws)
    t = world.ticket(ws)
    world.assign(ws, t, maria.email, world.actor(tom))
    world.drain()
    (n,) = world.mine(ws, maria)
    assert n["kind"] == "assigned" and n["ticket_id"] == t["id"] and not n["read"]
    assert n["actor"]["id"] == tom.id and n["data"]["ticket"]["subject"] == "VPN down"
    assert world.mine(ws, tom) == []


def test_assigning_yourself_tells_nobody_nor_does_an_unchanged_assignee(world: World) -> None:
    ws = world.people.workspace()
    maria = world.people.person(ws)
    t = world.ticket(ws)
    world.assign(ws, t, maria.email, world.actor(maria))
    world.people.core.records.patch(ws, "tickets", t["id"], {"status": "in_progress"}, SYSTEM)
    world.drain()
    assert world.mine(ws, maria) == []


def test_a_ticket_created_assigned_to_you_tells_you(world: World) -> None:
    ws = world.people.workspace()
    maria, tom = world.people.person(ws), world.people.person(ws)
    world.ticket(ws, assignee=maria.email)
    world.ticket(ws, by=world.actor(maria), assignee=tom.email)
    world.drain()
    assert kinds(world.mine(ws, maria)) == ["assigned"]
    assert kinds(world.mine(ws, tom)) == ["assigned"]


def test_free_text_and_members_of_other_workspaces_are_refused_and_told_nothing(world: World) -> None:
    """A workspace with members takes only its agents as assignees (support/team_rules.py)."""
    ws, other = world.people.workspace(), world.people.workspace()
    outsider = world.people.person(other)
    world.people.person(ws)
    for who in ("nobody-here", outsider.email):
        with pytest.raises(ValidationFailed):
            world.ticket(ws, assignee=who)
    world.drain()
    assert world.mine(ws, outsider) == [] and world.mine(other, outsider) == []


def test_a_customer_reply_tells_the_assignee_and_an_agent_reply_does_not(world: World) -> None:
    ws = world.people.workspace()
    maria = world.people.person(ws)
    core = world.people.core
    t = world.ticket(ws, assignee=maria.email)
    cust, _ = core.records.create(
        ws, "customers", {"data": {"name": "Ann", "email": "ann@cust.example"}}, SYSTEM
    )
    link = {
        "rel_type": "submitted_by",
        "source": {"collection": "tickets", "id": t["id"]},
        "target": {"collection": "customers", "id": cust["id"]},
    }
    core.relationships.upsert(ws, link, SYSTEM)
    world.drain()
    tickets.add_response(core, ws, t["id"], {"body": "Still broken!", "author": "ann@cust.example"}, SYSTEM)
    tickets.add_response(core, ws, t["id"], {"body": "Looking", "author": "support"}, SYSTEM)
    world.drain()
    got = world.mine(ws, maria)
    assert kinds(got) == ["customer_reply", "assigned"]
    assert got[0]["data"]["excerpt"] == "Still broken!" and got[0]["actor"]["name"] == "ann@cust.example"


def test_a_mention_in_a_note_tells_each_member_named_but_not_the_writer(world: World) -> None:
    ws, other = world.people.workspace(), world.people.workspace()
    maria, tom, ana = (world.people.person(ws) for _ in range(3))
    outsider = world.people.person(other)
    core = world.people.core
    t = world.ticket(ws)
    body = {
        "body": "@Tom @Ana can you look?",
        "type": "internal_note",
        "mentions": [tom.id, ana.id, maria.id],
    }
    tickets.add_response(core, ws, t["id"], body, world.actor(maria))
    world.drain()
    assert kinds(world.mine(ws, tom)) == kinds(world.mine(ws, ana)) == ["mention"]
    assert world.mine(ws, maria) == []
    assert world.mine(ws, tom)[0]["data"]["excerpt"] == "@Tom @Ana can you look?"
    # a mention of someone outside the workspace, or in a customer reply, is refused at the write
    for bad in ({**body, "mentions": [outsider.id]}, {"body": "hi", "type": "reply", "mentions": [tom.id]}):
        with pytest.raises(ValidationFailed):
            tickets.add_response(core, ws, t["id"], bad, world.actor(maria))


def test_sla_warning_and_breach_on_your_ticket(world: World) -> None:
    ws = world.people.workspace()
    maria = world.people.person(ws)
    api, clock = world.people.api, world.people.clock
    policy = {
        "name": "Fast",
        "calendar_id": "business-hours",
        "position": 0,
        "warn_fraction": 0.5,
        "targets": {"first_response": {"high": {"seconds": 60, "business": False}}},
    }
    assert api.put(f"/v1/workspaces/{ws}/sla/policies/fast", json=policy).status_code == 201
    world.ticket(ws, assignee=maria.email)
    world.drain()
    clock.advance(seconds=61)
    world.people.core.extensions[SlaService].run_due()
    world.drain()
    got = world.mine(ws, maria)
    assert kinds(got) == ["sla_breach", "sla_warning", "assigned"]
    assert got[0]["data"]["metric"] == "first_response"


def test_a_replayed_log_tells_nobody_twice(world: World) -> None:
    ws = world.people.workspace()
    maria, tom = world.people.person(ws), world.people.person(ws)
    t = world.ticket(ws)
    world.assign(ws, t, maria.email, world.actor(tom))
    body = {"body": "see this", "type": "internal_note", "mentions": [maria.id]}
    tickets.add_response(world.people.core, ws, t["id"], body, world.actor(tom))
    world.drain()
    core = world.people.core
    with core.db.tx() as tx:  # as after a crash before the watermark was stored
        loops.write_watermark(tx.conn, NAME, 0, core.clock)
    world.notes.fanout._watermark = None
    world.drain()
    assert kinds(world.mine(ws, maria)) == ["mention", "assigned"]
    with core.db.read() as conn:
        rows = conn.execute(
            select(notifications.c.source_key).where(notifications.c.user_id == maria.id)
        ).all()
    assert len(rows) == 2


def test_history_older_than_a_day_tells_nobody(world: World) -> None:
    ws = world.people.workspace()
    maria = world.people.person(ws)
    world.ticket(ws, assignee=maria.email)
    world.people.clock.advance(days=2)  # the loop reads it only now
    world.drain()
    assert world.mine(ws, maria) == []


def test_in_app_off_for_a_kind_stores_none_of_it(world: World) -> None:
    ws = world.people.workspace()
    maria, tom = world.people.person(ws), world.people.person(ws)
    world.notes.set_preferences(world.actor(maria), {"assigned": {"in_app": False}})
    world.assign(ws, world.ticket(ws), maria.email, world.actor(tom))
    world.drain()
    assert world.mine(ws, maria) == []
