"""Roles and memberships: what each built-in role may do through the one permission check, custom roles,
who may change members (owners make owners), and tokens that never exceed their user's role — a demotion
narrows them from the next request, a removal takes the workspace away."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from deskbase.core.grants import intersect
from tests.people.conftest import People

TICKET = {"data": {"subject": "Printer on fire", "status": "open", "priority": "high"}}


@dataclass(frozen=True)
class Can:
    role: str
    read: bool
    write_ticket: bool
    note: bool
    reply: bool  #: a reply the customer sees
    sql_allowed: bool
    schema: bool
    manage: bool


ROLES = [
    Can("owner", True, True, True, True, True, True, True),
    Can("admin", True, True, True, True, True, True, True),
    Can("agent", True, True, True, True, False, False, False),
    Can("light_agent", True, False, True, False, False, False, False),
    Can("analyst", True, False, False, False, True, False, False),
]


@pytest.mark.parametrize("can", ROLES, ids=[c.role for c in ROLES])
def test_each_built_in_role_through_the_one_permission_check(people: People, can: Can) -> None:
    ws = people.workspace()
    ticket = people.api.post(f"/v1/workspaces/{ws}/records/tickets", json=TICKET).json()["id"]
    p = people.person(ws, can.role)
    base = f"/v1/workspaces/{ws}"

    def allowed(status: int) -> bool:
        assert status < 500
        return status < 400

    assert allowed(people.api.get(f"{base}/records/tickets/{ticket}", token=p.token).status_code) == can.read
    patch = people.api.patch(
        f"{base}/records/tickets/{ticket}", json={"data": {"priority": "low"}}, token=p.token
    )
    assert allowed(patch.status_code) == can.write_ticket
    note = people.api.post(
        f"{base}/tickets/{ticket}/responses",
        json={"body": "internal", "type": "internal_note"},
        token=p.token,
    )
    assert allowed(note.status_code) == can.note
    reply = people.api.post(f"{base}/tickets/{ticket}/responses", json={"body": "hi"}, token=p.token)
    assert allowed(reply.status_code) == can.reply and reply.status_code in (201, 403)
    # sql: checked before the (absent) replica answers 503, so a refusal is a 403 and a grant is not
    sql = people.api.post(f"{base}/sql", json={"query": "SELECT 1"}, token=p.token)
    assert (sql.status_code != 403) == can.sql_allowed
    schema = people.api.put(
        f"{base}/collections/notes", json={"json_schema": {"type": "object"}}, token=p.token
    )
    assert allowed(schema.status_code) == can.schema
    invite = people.api.post(
        f"{base}/invitations",
        json={"email": f"{can.role}-guest@people.example", "role": "agent"},
        token=p.token,
    )
    assert allowed(invite.status_code) == can.manage


def test_roles_list_and_custom_roles(people: People) -> None:
    ws = people.workspace()
    base = f"/v1/workspaces/{ws}/roles"
    names = [r["name"] for r in people.api.get(base).json()["data"]]
    assert names == ["owner", "admin", "agent", "light_agent", "analyst"]
    grants = [{"scope": {"workspaces": [ws], "collections": ["tickets"]}, "permissions": ["read:records"]}]
    r = people.api.put(f"{base}/triage", json={"grants": grants, "description": "reads tickets"})
    assert r.status_code == 201 and r.json()["built_in"] is False
    assert people.api.put(f"{base}/triage", json={"grants": grants}).status_code == 200
    outside = people.api.put(
        f"{base}/wide", json={"grants": [{"scope": {"workspaces": ["*"]}, "permissions": ["read:records"]}]}
    )
    assert outside.status_code == 422
    assert outside.json()["error"]["details"]["errors"][0]["pointer"] == "/grants/0/scope/workspaces"
    assert people.api.put(f"{base}/agent", json={"grants": grants}).status_code == 409
    p = people.person(ws, "triage")
    tickets = people.api.get(f"/v1/workspaces/{ws}/records/tickets", token=p.token)
    customers = people.api.get(f"/v1/workspaces/{ws}/records/customers", token=p.token)
    assert (tickets.status_code, customers.status_code) == (200, 404)
    held = people.api.delete(f"{base}/triage")
    assert held.status_code == 409 and held.json()["error"]["details"]["members"] == 1
    unknown = people.api.put(f"/v1/workspaces/{ws}/members/{p.id}", json={"role": "nope"})
    assert unknown.status_code == 422
    people.api.put(f"/v1/workspaces/{ws}/members/{p.id}", json={"role": "agent"})
    assert people.api.delete(f"{base}/triage").status_code == 204


def test_a_custom_role_change_reaches_its_members_tokens_at_once(people: People) -> None:
    ws = people.workspace()
    base = f"/v1/workspaces/{ws}"
    read = [{"scope": {"workspaces": [ws]}, "permissions": ["read:records"]}]
    people.api.put(f"{base}/roles/viewer", json={"grants": read})
    p = people.person(ws, "viewer")
    assert people.api.get(f"{base}/records/tickets", token=p.token).status_code == 200
    people.api.put(
        f"{base}/roles/viewer", json={"grants": [{**read[0], "permissions": ["read:collections"]}]}
    )
    assert people.api.get(f"{base}/records/tickets", token=p.token).status_code == 403


def test_only_owners_make_or_unmake_owners(people: People) -> None:
    ws = people.workspace()
    owner, admin, agent = people.person(ws, "owner"), people.person(ws, "admin"), people.person(ws)
    base = f"/v1/workspaces/{ws}/members"
    refused = people.api.put(f"{base}/{agent.id}", json={"role": "owner"}, token=admin.token)
    assert refused.status_code == 403 and "owner" in refused.json()["error"]["message"]
    assert people.api.delete(f"{base}/{owner.id}", token=admin.token).status_code == 403
    assert (
        people.api.post(
            f"/v1/workspaces/{ws}/invitations",
            json={"email": "o@people.example", "role": "owner"},
            token=admin.token,
        ).status_code
        == 403
    )
    assert (
        people.api.put(f"{base}/{agent.id}", json={"role": "analyst"}, token=admin.token).status_code == 200
    )
    assert people.api.put(f"{base}/{agent.id}", json={"role": "owner"}, token=owner.token).status_code == 200
    assert people.api.get(f"{base}/{agent.id}").json()["role"] == "owner"


def test_a_member_is_added_only_when_visible_to_the_admin(people: People) -> None:
    a, b = people.workspace(), people.workspace()
    owner_a = people.person(a, "owner")
    stranger = people.person(b)
    r = people.api.put(
        f"/v1/workspaces/{a}/members/{stranger.id}", json={"role": "agent"}, token=owner_a.token
    )
    assert r.status_code == 404
    assert (
        people.api.put(f"/v1/workspaces/{a}/members/{stranger.id}", json={"role": "agent"}).status_code == 201
    )


def test_demotion_narrows_tokens_and_sessions_from_the_next_request(people: People) -> None:
    ws = people.workspace()
    p = people.person(ws, "agent")
    console = people.browser()
    assert console.sign_in(p.email, p.password).status_code == 303
    url = f"/v1/workspaces/{ws}/records/tickets"
    assert people.api.post(url, json=TICKET, token=p.token).status_code == 201
    assert people.api.put(f"/v1/workspaces/{ws}/members/{p.id}", json={"role": "analyst"}).status_code == 200
    refused = people.api.post(url, json=TICKET, token=p.token)
    assert refused.status_code == 403 and refused.json()["error"]["details"]["permission"] == "write:records"
    assert people.api.get(url, token=p.token).status_code == 200
    current = people.api.get("/v1/tokens/current", token=p.token).json()
    assert "write:records" not in str(current["grants"]) and current["user_id"] == p.id
    new_ticket = console.get(f"/w/{ws}/tickets/new")
    assert new_ticket.status_code == 403
    assert people.api.delete(f"/v1/workspaces/{ws}/members/{p.id}").status_code == 204
    assert people.api.get(url, token=p.token).status_code == 404
    assert console.get(f"/w/{ws}/queue").status_code == 404


def test_personal_tokens_never_exceed_the_role(people: People) -> None:
    ws = people.workspace()
    p = people.person(ws, "light_agent")
    me = "/v1/users/me/tokens"
    wide = [{"scope": {"workspaces": [ws]}, "permissions": ["write:records"]}]
    refused = people.api.post(me, json={"name": "too much", "grants": wide}, token=p.token)
    assert refused.status_code == 403 and refused.json()["error"]["details"]["permission"] == "write:records"
    narrow = [{"scope": {"workspaces": [ws], "collections": ["tickets"]}, "permissions": ["read:records"]}]
    r = people.api.post(me, json={"name": "reader", "grants": narrow}, token=p.token)
    assert r.status_code == 201 and r.json()["user_id"] == p.id and r.headers["cache-control"] == "no-store"
    reader = r.json()["token"]
    assert people.api.get(f"/v1/workspaces/{ws}/records/tickets", token=reader).status_code == 200
    assert people.api.get(f"/v1/workspaces/{ws}/records/customers", token=reader).status_code == 404
    # minted from the narrow token without grants: no more than that token
    child = people.api.post(me, json={"name": "child"}, token=reader).json()
    assert child["grants"] == narrow
    listed = {t["name"] for t in people.api.get(me, token=p.token).json()["data"]}
    assert {"personal", "reader", "child"} <= listed
    assert people.api.delete(f"{me}/{r.json()['id']}", token=p.token).json()["revoked_at"] is not None
    assert people.api.get(f"/v1/workspaces/{ws}/records/tickets", token=child["token"]).status_code == 401
    assert people.api.post(me, json={"name": "svc"}).status_code == 404  # a service token has no user


def test_a_users_admin_token_mints_only_user_tokens(people: People) -> None:
    """A workspace admin minting through /v1/tokens makes a token of theirs, which a demotion narrows too."""
    ws = people.workspace()
    admin = people.person(ws, "admin")
    grants = [{"scope": {"workspaces": [ws]}, "permissions": ["write:records", "read:records"]}]
    minted = people.api.post("/v1/tokens", json={"name": "ci", "grants": grants}, token=admin.token).json()
    assert minted["user_id"] == admin.id
    people.api.put(f"/v1/workspaces/{ws}/members/{admin.id}", json={"role": "analyst"})
    url = f"/v1/workspaces/{ws}/records/tickets"
    assert people.api.post(url, json=TICKET, token=minted["token"]).status_code == 403


def test_intersect_is_what_both_grant() -> None:
    token = [{"scope": {"workspaces": ["*"]}, "permissions": ["*"]}]
    role = [
        {"scope": {"workspaces": ["a"]}, "permissions": ["read:records"]},
        {"scope": {"workspaces": ["b"], "collections": ["tickets"]}, "permissions": ["admin"]},
    ]
    assert intersect(token, role) == [
        {"scope": {"workspaces": ["a"]}, "permissions": ["read:records"]},
        {"scope": {"workspaces": ["b"], "collections": ["tickets"]}, "permissions": ["admin"]},
    ]
    narrow = [
        {
            "scope": {"workspaces": ["a", "b"], "collections": ["tickets", "customers"]},
            "permissions": ["read:records", "sql"],
        }
    ]
    assert intersect(narrow, role) == [
        {
            "scope": {"workspaces": ["a"], "collections": ["customers", "tickets"]},
            "permissions": ["read:records"],
        },
        {"scope": {"workspaces": ["b"], "collections": ["tickets"]}, "permissions": ["read:records", "sql"]},
    ]
    assert intersect([{"scope": {"workspaces": ["c"]}, "permissions": ["*"]}], role) == []


def test_demoting_or_removing_a_member_stops_what_they_configured_there_saying_why(people: People) -> None:
    ws, other = people.workspace(), people.workspace()
    p = people.person(ws, "admin")
    assert people.api.put(f"/v1/workspaces/{other}/members/{p.id}", json={"role": "admin"}).status_code == 201
    trigger = {"url": "https://hooks.example.com/in", "events": ["record.created"]}
    hook = {"collection": "tickets", "mapping": {"subject": "/title"}, "external_id": "/id"}
    for w in (ws, other):
        assert (
            people.api.put(f"/v1/workspaces/{w}/triggers/crm", json=trigger, token=p.token).status_code == 201
        )
        assert people.api.put(f"/v1/workspaces/{w}/hooks/shop", json=hook, token=p.token).status_code == 201

    def state(w: str) -> list[tuple[bool, str | None]]:
        return [
            (got["enabled"], got["disabled_reason"])
            for got in (
                people.api.get(f"/v1/workspaces/{w}/triggers/crm").json(),
                people.api.get(f"/v1/workspaces/{w}/hooks/shop").json(),
            )
        ]

    assert people.api.put(f"/v1/workspaces/{ws}/members/{p.id}", json={"role": "agent"}).status_code == 200
    why = f"the role of its owner {p.email} in the workspace went from admin to agent"
    assert state(ws) == [(False, why), (False, why)]
    assert state(other) == [(True, None), (True, None)]  # still an admin there
    assert people.api.delete(f"/v1/workspaces/{other}/members/{p.id}").status_code == 204
    gone = f"its owner {p.email} was removed from the workspace"
    assert state(other) == [(False, gone), (False, gone)]
    # a widening leaves things as they are: a member with the rights re-enables them
    assert people.api.put(f"/v1/workspaces/{ws}/members/{p.id}", json={"role": "admin"}).status_code == 200
    assert state(ws) == [(False, why), (False, why)]
    on = people.api.put(f"/v1/workspaces/{ws}/triggers/crm", json=trigger)
    assert on.status_code == 200 and (on.json()["enabled"], on.json()["disabled_reason"]) == (True, None)


def test_a_light_agent_writes_internal_notes_only_on_every_path(people: People) -> None:
    ws = people.workspace()
    base = f"/v1/workspaces/{ws}"
    ticket = people.api.post(f"{base}/records/tickets", json=TICKET).json()["id"]
    light = people.person(ws, "light_agent")
    refused = people.api.post(f"{base}/tickets/{ticket}/responses", json={"body": "hi"}, token=light.token)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["details"]["reason"] == "internal_notes_only" and "internal notes only" in error["message"]
    raw = {"data": {"body": "hi", "type": "reply", "author": light.email}}
    assert people.api.post(f"{base}/records/responses", json=raw, token=light.token).status_code == 403
    batch = {"operations": [{"type": "upsert_record", "collection": "responses", "data": raw["data"]}]}
    assert people.api.post(f"{base}/batch", json=batch, token=light.token).status_code == 403
    note = people.api.post(
        f"{base}/tickets/{ticket}/responses", json={"body": "fyi", "type": "internal_note"}, token=light.token
    )
    assert note.status_code == 201, note.text
    # a note cannot be turned into a reply either, and an agent's reply cannot be rewritten
    turned = people.api.patch(
        f"{base}/records/responses/{note.json()['id']}", json={"data": {"type": "reply"}}, token=light.token
    )
    assert turned.status_code == 403
    reply = people.api.post(f"{base}/tickets/{ticket}/responses", json={"body": "Fixed"}).json()
    edit = {"data": {"body": "Not fixed"}}
    assert (
        people.api.patch(f"{base}/records/responses/{reply['id']}", json=edit, token=light.token).status_code
        == 403
    )
    # the console offers notes only, and a forged reply is refused in the composer
    console = people.browser()
    assert console.sign_in(light.email, light.password).status_code == 303
    page = console.get(f"/w/{ws}/tickets/{ticket}")
    assert page.status_code == 200 and 'id="notes-only"' in page.text and 'id="type-reply"' not in page.text
    forged = console.post(f"/w/{ws}/tickets/{ticket}/reply", {"body": "hello", "type": "reply"})
    assert forged.status_code == 403 and "internal notes only" in forged.text
    written = people.api.get(f"{base}/records/responses").json()["data"]
    assert sorted(r["data"]["body"] for r in written) == ["Fixed", "fyi"]  # nothing else got through
