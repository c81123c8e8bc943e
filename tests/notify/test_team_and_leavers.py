"""The notifications that follow people and teams: a ticket that lands unassigned in a team tells the team,
an edited note tells only the newly mentioned, and a member who leaves (or a user who is deleted) takes their
notifications with them. Derived by the loop from real writes, as every kind is."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from deskbase.core import loops
from deskbase.core.context import SYSTEM
from deskbase.notify.fanout import NAME
from deskbase.notify.tables import notifications
from deskbase.support import tickets
from tests.notify.conftest import World
from tests.people.conftest import Person


@pytest.fixture(scope="module")
def world(stored_world: World) -> World:
    """On SQLite and on PostgreSQL."""
    return stored_world


def kinds(world: World, ws: str, p: Person) -> list[str]:
    return [n["kind"] for n in world.mine(ws, p)]


def put_team(world: World, ws: str, team: str, rule: str, members: list[Person]) -> None:
    body = {"name": team.title(), "rule": rule, "members": [m.email for m in members]}
    assert world.people.api.put(f"/v1/workspaces/{ws}/teams/{team}", json=body).status_code == 201


def test_a_ticket_left_unassigned_in_a_team_tells_each_member_but_the_mover(world: World) -> None:
    ws = world.people.workspace()
    maria, tom, ana, outside = (world.people.person(ws) for _ in range(4))
    put_team(world, ws, "billing", "round_robin", [maria, tom, ana])  # nobody online: the rule finds no one
    t = world.ticket(ws, by=world.actor(ana), team="billing")
    world.drain()
    for p in (maria, tom):
        (n,) = world.mine(ws, p)
        assert n["kind"] == "team_assigned" and n["ticket_id"] == t["id"]
        assert n["title"] == "Assigned to your team" and n["data"]["team"] == {
            "id": "billing",
            "name": "Billing",
        }
        assert n["actor"]["id"] == ana.id
    assert world.mine(ws, ana) == [] and world.mine(ws, outside) == []
    core = world.people.core
    with core.db.tx() as tx:  # read again, as after a crash before the watermark was stored: told once
        loops.write_watermark(tx.conn, NAME, 0, core.clock)
    world.notes.fanout._watermark = None
    world.drain()
    assert kinds(world, ws, maria) == ["team_assigned"]


def test_moving_a_ticket_to_another_team_tells_the_new_team_once(world: World) -> None:
    ws = world.people.workspace()
    maria, tom = world.people.person(ws), world.people.person(ws)
    put_team(world, ws, "billing", "manual", [maria])
    put_team(world, ws, "tech", "manual", [tom])
    t = world.ticket(ws, team="billing")
    core = world.people.core
    core.records.patch(ws, "tickets", t["id"], {"team": "tech"}, SYSTEM)
    core.records.patch(ws, "tickets", t["id"], {"priority": "low"}, SYSTEM)  # staying in a team is no entry
    world.drain()
    # by the time the loop reads it, the ticket is no longer in billing: billing is not called
    assert kinds(world, ws, maria) == [] and kinds(world, ws, tom) == ["team_assigned"]


def test_a_ticket_the_rule_assigns_tells_only_its_assignee(world: World) -> None:
    ws = world.people.workspace()
    maria, tom = world.people.person(ws), world.people.person(ws)
    put_team(world, ws, "billing", "round_robin", [maria, tom])
    world.people.core.sessions.open(None, maria.id)  # online: the rule gives her the ticket
    t = world.ticket(ws, team="billing")
    world.drain()
    assert kinds(world, ws, maria) == ["assigned"] and kinds(world, ws, tom) == []
    assert world.mine(ws, maria)[0]["ticket_id"] == t["id"]
    # a ticket filed resolved, or taken by hand before the loop reads it, calls nobody either
    world.ticket(ws, team="billing", status="resolved")
    taken = world.ticket(ws, team="billing", status="waiting")
    world.assign(ws, taken, tom.email, world.actor(tom))
    world.drain()
    assert kinds(world, ws, tom) == [] and kinds(world, ws, maria) == ["assigned", "assigned"]


def test_team_notifications_follow_the_preference(world: World) -> None:
    ws = world.people.workspace()
    maria = world.people.person(ws)
    put_team(world, ws, "billing", "manual", [maria])
    world.notes.set_preferences(world.actor(maria), {"team_assigned": {"in_app": False}})
    world.ticket(ws, team="billing")
    world.drain()
    assert world.mine(ws, maria) == []
    kinds_listed = [k["kind"] for k in world.notes.preferences_public(maria.id)["kinds"]]
    assert "team_assigned" in kinds_listed


def test_an_edited_note_tells_only_the_newly_mentioned(world: World) -> None:
    ws = world.people.workspace()
    maria, tom, ana = (world.people.person(ws) for _ in range(3))
    core = world.people.core
    t = world.ticket(ws)
    body = {"body": "@Tom look", "type": "internal_note", "mentions": [tom.id]}
    note = tickets.add_response(core, ws, t["id"], body, world.actor(maria))
    world.drain()
    assert kinds(world, ws, tom) == ["mention"]
    edit = {"body": "@Tom @Ana look", "mentions": [tom.id, ana.id, maria.id]}
    core.records.patch(ws, "responses", note["id"], edit, world.actor(maria))
    core.records.patch(ws, "responses", note["id"], {"body": "@Tom @Ana look!"}, world.actor(maria))
    world.drain()
    assert kinds(world, ws, tom) == ["mention"]  # not told again
    (n,) = world.mine(ws, ana)
    assert n["kind"] == "mention" and n["ticket_id"] == t["id"] and n["data"]["excerpt"] == "@Tom @Ana look"
    assert world.mine(ws, maria) == []  # the writer, mentioning themselves


def test_a_reply_edited_to_carry_mentions_tells_nobody(world: World) -> None:
    ws = world.people.workspace()
    maria, tom = world.people.person(ws), world.people.person(ws)
    core = world.people.core
    t = world.ticket(ws)
    reply = tickets.add_response(core, ws, t["id"], {"body": "Hello", "type": "reply"}, world.actor(maria))
    core.records.patch(ws, "responses", reply["id"], {"mentions": [tom.id]}, SYSTEM)
    world.drain()
    assert world.mine(ws, tom) == []


def count(world: World, user_id: str, ws: str | None = None) -> int:
    n = notifications.c
    q = select(func.count()).where(n.user_id == user_id)
    if ws is not None:
        q = q.where(n.workspace_id == ws)
    with world.people.core.db.read() as conn:
        return int(conn.execute(q).scalar() or 0)


def test_a_removed_member_loses_that_workspaces_notifications_and_a_deleted_user_all(world: World) -> None:
    ws, other = world.people.workspace(), world.people.workspace()
    maria, tom = world.people.person(ws), world.people.person(ws)
    api = world.people.api
    assert api.put(f"/v1/workspaces/{other}/members/{maria.id}", json={"role": "agent"}).status_code == 201
    world.ticket(ws, assignee=maria.email)
    world.ticket(other, assignee=maria.email)
    world.ticket(ws, assignee=tom.email)
    world.drain()
    assert (count(world, maria.id, ws), count(world, maria.id, other)) == (1, 1)
    assert api.delete(f"/v1/workspaces/{ws}/members/{maria.id}").status_code == 204
    assert (count(world, maria.id, ws), count(world, maria.id, other)) == (0, 1)
    assert count(world, tom.id) == 1  # nobody else's
    assert api.delete(f"/v1/users/{maria.id}").status_code == 204
    assert count(world, maria.id) == 0 and count(world, tom.id) == 1


def test_an_email_change_that_moves_tickets_tells_nobody(world: World) -> None:
    ws = world.people.workspace()
    maria, tom = world.people.person(ws), world.people.person(ws)
    world.assign(ws, world.ticket(ws), maria.email, world.actor(tom))
    world.drain()
    r = world.people.api.patch(f"/v1/users/{maria.id}", json={"email": "new." + maria.email})
    assert r.status_code == 200
    world.drain()
    assert kinds(world, ws, maria) == ["assigned"]
