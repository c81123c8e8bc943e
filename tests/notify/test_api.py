"""The notification routes: a user's own list (paged, unread first), mark read (one, all), preferences; a
service token and another workspace's people get nothing; mentions through the responses route."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from deskbase.notify.tables import notifications
from tests.notify.conftest import World


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get(world: World, path: str, token: str, **params: Any) -> Any:
    return world.people.api.client.get(path, headers=auth(token), params=params)


def post(world: World, path: str, token: str, json: Any = None) -> Any:
    return world.people.api.client.post(path, headers=auth(token), json=json)


def three_assignments(world: World) -> tuple[str, Any, Any]:
    ws = world.people.workspace()
    maria, tom = world.people.person(ws), world.people.person(ws)
    for n in range(3):
        world.assign(ws, world.ticket(ws, subject=f"t{n}"), maria.email, world.actor(tom))
    world.drain()
    return ws, maria, tom


def test_list_pages_unread_first_and_marks_read(world: World) -> None:
    ws, maria, _ = three_assignments(world)
    base = f"/v1/workspaces/{ws}/notifications"
    r = get(world, base, maria.token)
    assert r.status_code == 200 and r.json()["unread"] == 3
    newest, middle, oldest = r.json()["data"]
    assert [n["data"]["ticket"]["subject"] for n in (newest, middle, oldest)] == ["t2", "t1", "t0"]
    r = post(world, f"{base}/{newest['id']}/read", maria.token)
    assert r.status_code == 200 and r.json()["read"] is True and r.json()["read_at"]
    first = get(world, base, maria.token, limit=2).json()
    assert [n["id"] for n in first["data"]] == [middle["id"], oldest["id"]] and first["unread"] == 2
    rest = get(world, base, maria.token, limit=2, cursor=first["next_cursor"]).json()
    assert [n["id"] for n in rest["data"]] == [newest["id"]] and rest["next_cursor"] is None
    by_time = get(world, base, maria.token, order="newest").json()["data"]
    assert [n["id"] for n in by_time] == [newest["id"], middle["id"], oldest["id"]]
    assert [n["id"] for n in get(world, base, maria.token, unread="true").json()["data"]] == [
        middle["id"],
        oldest["id"],
    ]
    r = post(world, f"{base}/read-all", maria.token)
    assert r.json() == {"marked": 2, "unread": 0}
    assert get(world, base, maria.token, order="sideways").status_code == 400


def test_nobody_reads_or_marks_another_users_notifications(world: World) -> None:
    ws, maria, tom = three_assignments(world)
    other_ws = world.people.workspace()
    outsider = world.people.person(other_ws)
    base = f"/v1/workspaces/{ws}/notifications"
    nid = get(world, base, maria.token).json()["data"][0]["id"]
    assert get(world, base, tom.token).json() == {"data": [], "next_cursor": None, "unread": 0}
    r = post(world, f"{base}/{nid}/read", tom.token)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = get(world, base, outsider.token)
    assert r.status_code == 404 and r.json()["error"]["details"] == {"workspace": ws}
    assert get(world, f"/v1/workspaces/{other_ws}/notifications", outsider.token).json()["data"] == []
    assert get(world, base, maria.token).json()["unread"] == 3


def test_a_service_token_has_no_notifications(world: World) -> None:
    ws = world.people.workspace()
    r = world.people.api.get(f"/v1/workspaces/{ws}/notifications")
    assert r.status_code == 404 and r.json()["error"]["details"] == {"reason": "no_user"}
    r = world.people.api.get(f"/v1/workspaces/{ws}/notifications/stream")
    assert r.status_code == 404 and r.json()["error"]["details"] == {"reason": "no_user"}


def test_preferences_default_and_change(world: World) -> None:
    ws = world.people.workspace()
    maria = world.people.person(ws)
    path = "/v1/users/me/notification-preferences"
    kinds = {k["kind"]: k for k in get(world, path, maria.token).json()["kinds"]}
    assert set(kinds) == {
        "assigned",
        "team_assigned",
        "customer_reply",
        "mention",
        "sla_warning",
        "sla_breach",
    }
    assert all(k["in_app"] and not k["email"] for k in kinds.values())
    r = world.people.api.client.patch(path, headers=auth(maria.token), json={"mention": {"email": True}})
    mention = next(k for k in r.json()["kinds"] if k["kind"] == "mention")
    assert r.status_code == 200 and mention == {**kinds["mention"], "email": True}
    bad = world.people.api.client.patch(path, headers=auth(maria.token), json={"nope": {"email": "yes"}})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_failed"


def test_mentions_through_the_responses_route(world: World) -> None:
    ws = world.people.workspace()
    maria, tom = world.people.person(ws), world.people.person(ws)
    t = world.ticket(ws)
    body = {"body": "@Tom please check", "type": "internal_note", "mentions": [tom.id]}
    r = post(world, f"/v1/workspaces/{ws}/tickets/{t['id']}/responses", maria.token, body)
    assert r.status_code == 201 and r.json()["data"]["mentions"] == [tom.id]
    world.drain()
    (n,) = get(world, f"/v1/workspaces/{ws}/notifications", tom.token).json()["data"]
    assert n["kind"] == "mention" and n["actor"]["id"] == maria.id
    r = post(
        world, f"/v1/workspaces/{ws}/tickets/{t['id']}/responses", maria.token, {**body, "mentions": ["u_x"]}
    )
    assert r.status_code == 422


def test_deleting_a_workspace_deletes_its_notifications(world: World) -> None:
    ws, maria, _ = three_assignments(world)
    assert len(world.mine(ws, maria)) == 3
    assert world.people.api.delete(f"/v1/workspaces/{ws}").status_code == 204
    with world.people.core.db.read() as conn:
        left = conn.execute(select(notifications.c.id).where(notifications.c.workspace_id == ws)).all()
    assert left == []
