"""Users over HTTP: who may create, read, list, change and delete them; a user never sees another workspace's
people; suspending or deleting cuts the user off (tokens, sessions, triggers) in one step."""

from __future__ import annotations

from sqlalchemy import select

from deskbase.core import tables as t
from deskbase.events.tables import triggers
from tests.people.conftest import People


def auth(token: str) -> dict[str, str]:
    return {"token": token}


def test_server_admin_creates_users_with_lowercase_unique_email(people: People) -> None:
    api = people.api
    r = api.post(
        "/v1/users",
        json={"email": "  Ada.Lovelace@Example.COM ", "name": "Ada", "time_zone": "Europe/London"},
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert (user["email"], user["time_zone"], user["status"], user["has_password"]) == (
        "ada.lovelace@example.com",
        "Europe/London",
        "active",
        False,
    )
    assert user["avatar_colour"].startswith("#") and user["locale"] == "en"
    again = api.post("/v1/users", json={"email": "ADA.LOVELACE@example.com"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_bad_fields_are_422_naming_the_field(people: People) -> None:
    cases = {
        "/email": {"email": "not-an-email"},
        "/time_zone": {"email": "tz@people.example", "time_zone": "Mars/Olympus"},
        "/locale": {"email": "lc@people.example", "locale": "english please"},
        "/avatar_colour": {"email": "av@people.example", "avatar_colour": "red"},
        "/password": {"email": "pw@people.example", "password": "password"},
    }
    for pointer, body in cases.items():
        r = people.api.post("/v1/users", json=body)
        assert r.status_code == 422, (pointer, r.text)
        assert r.json()["error"]["details"]["errors"][0]["pointer"] == pointer


def test_only_a_server_admin_creates_or_deletes_users(people: People) -> None:
    ws = people.workspace()
    owner = people.person(ws, "owner")
    r = people.api.post("/v1/users", json={"email": "x@people.example"}, token=owner.token)
    assert r.status_code == 403 and r.json()["error"]["details"]["permission"] == "admin"
    agent = people.person(ws)
    assert people.api.delete(f"/v1/users/{agent.id}", token=owner.token).status_code == 403


def test_people_see_their_workspaces_people_only(people: People) -> None:
    a, b = people.workspace(), people.workspace()
    ann, bob = people.person(a), people.person(a, "light_agent")
    zed = people.person(b)
    seen = {u["email"] for u in people.api.get("/v1/users", token=ann.token).json()["data"]}
    assert seen == {ann.email, bob.email}
    assert people.api.get(f"/v1/users/{bob.id}", token=ann.token).status_code == 200
    hidden = people.api.get(f"/v1/users/{zed.id}", token=ann.token)
    assert hidden.status_code == 404 and hidden.json()["error"]["message"] == f"user {zed.id!r} not found"
    assert people.api.get(f"/v1/workspaces/{b}/members", token=ann.token).status_code == 404
    assert zed.email not in people.api.get("/v1/users?limit=1000", token=ann.token).text
    # a service token scoped to workspace b sees b's people only
    raw, _ = people.core.tokens.create(
        "b-reader", [{"scope": {"workspaces": [b]}, "permissions": ["read:records"]}]
    )
    assert {u["email"] for u in people.api.get("/v1/users", token=raw).json()["data"]} == {zed.email}
    # the server admin sees everyone, paged by email
    first = people.api.get("/v1/users?limit=2").json()
    assert len(first["data"]) == 2 and first["next_cursor"] == first["data"][-1]["email"]
    rest = people.api.get(f"/v1/users?limit=1000&cursor={first['next_cursor']}").json()["data"]
    assert {ann.email, bob.email, zed.email} <= {u["email"] for u in first["data"] + rest}


def test_me_and_own_profile(people: People) -> None:
    ws = people.workspace()
    ann = people.person(ws, "analyst")
    me = people.api.get("/v1/users/me", token=ann.token).json()
    assert me["id"] == ann.id and me["memberships"] == [{"workspace": ws, "role": "analyst"}]
    r = people.api.patch(
        f"/v1/users/{ann.id}", json={"name": "Ann B.", "time_zone": "Asia/Tokyo"}, token=ann.token
    )
    assert r.status_code == 200 and (r.json()["name"], r.json()["time_zone"]) == ("Ann B.", "Asia/Tokyo")
    stale = people.api.patch(
        f"/v1/users/{ann.id}", json={"name": "x"}, headers={"If-Match": "1"}, token=ann.token
    )
    assert stale.status_code == 412
    for field, value in (("status", "suspended"), ("server_admin", True), ("email", "new@people.example")):
        r = people.api.patch(f"/v1/users/{ann.id}", json={field: value}, token=ann.token)
        assert r.status_code == 403, field
    colleague = people.person(ws)
    assert (
        people.api.patch(f"/v1/users/{colleague.id}", json={"name": "x"}, token=ann.token).status_code == 403
    )
    service = people.api.get("/v1/users/me")
    assert service.status_code == 404 and "service token" in service.json()["error"]["message"]


def test_suspending_revokes_tokens_ends_sessions_and_stops_triggers_at_once(people: People) -> None:
    ws = people.workspace()
    admin = people.person(ws, "admin")
    console = people.browser()
    assert console.sign_in(admin.email, admin.password).status_code == 303
    assert console.get(f"/w/{ws}/queue").status_code == 200
    r = people.api.put(
        f"/v1/workspaces/{ws}/triggers/crm",
        json={"url": "https://hooks.example.com/in", "events": ["record.created"]},
        token=admin.token,
    )
    assert r.status_code == 201, r.text
    r = people.api.patch(f"/v1/users/{admin.id}", json={"status": "suspended"})
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    refused = people.api.get(f"/v1/workspaces/{ws}", token=admin.token)
    assert refused.status_code == 401 and refused.json()["error"]["message"] == "token revoked"
    assert console.get(f"/w/{ws}/queue").headers["location"].startswith("/signin")
    with people.core.db.read() as conn:
        trigger = conn.execute(select(triggers).where(triggers.c.workspace_id == ws)).one()
        sessions = conn.execute(
            select(t.console_sessions).where(t.console_sessions.c.user_id == admin.id)
        ).all()
    assert trigger.enabled is False and trigger.disabled_reason == f"its owner {admin.email} was suspended"
    assert sessions == []
    again = console.sign_in(admin.email, admin.password)
    assert again.status_code == 401 and "suspended" in again.text
    # reactivated: password sign-in works again, the old token stays revoked
    people.api.patch(f"/v1/users/{admin.id}", json={"status": "active"})
    assert console.sign_in(admin.email, admin.password).status_code == 303
    assert people.api.get(f"/v1/workspaces/{ws}", token=admin.token).status_code == 401


def test_deleting_a_user_removes_memberships_and_revokes_tokens(people: People) -> None:
    ws = people.workspace()
    ann = people.person(ws)
    assert people.api.delete(f"/v1/users/{ann.id}").status_code == 204
    assert people.api.get(f"/v1/users/{ann.id}").status_code == 404
    assert people.api.get(f"/v1/workspaces/{ws}", token=ann.token).status_code == 401
    assert people.api.get(f"/v1/workspaces/{ws}/members").json()["data"] == []
    assert people.api.delete(f"/v1/users/{ann.id}").status_code == 404


def test_a_deleted_workspace_takes_its_memberships_roles_and_invitations(people: People) -> None:
    ws = people.workspace()
    ann = people.person(ws, "owner")
    people.api.put(
        f"/v1/workspaces/{ws}/roles/triage",
        json={"grants": [{"scope": {"workspaces": [ws]}, "permissions": ["read:records"]}]},
    )
    people.api.post(
        f"/v1/workspaces/{ws}/invitations", json={"email": "later@people.example", "role": "agent"}
    )
    assert people.api.delete(f"/v1/workspaces/{ws}").status_code == 204
    assert people.api.get("/v1/users/me", token=ann.token).json()["memberships"] == []
    # the same id again starts empty
    assert people.api.put(f"/v1/workspaces/{ws}", json={"name": "again"}).status_code == 201
    assert [
        r["name"] for r in people.api.get(f"/v1/workspaces/{ws}/roles").json()["data"] if not r["built_in"]
    ] == []
    assert people.api.get(f"/v1/workspaces/{ws}/invitations").json()["data"] == []
    assert people.api.get(f"/v1/workspaces/{ws}", token=ann.token).status_code == 404


def test_the_demo_creates_an_admin_user_its_agents_and_a_team_once(people: People) -> None:
    from deskbase.server import DEMO_ADMIN, DEMO_AGENTS, DEMO_WORKSPACE, demo_people
    from deskbase.support import demo

    people.api.put(f"/v1/workspaces/{DEMO_WORKSPACE}", json={"name": "Demo"})
    passwords = demo_people(people.core)
    assert passwords is not None and len(passwords[DEMO_ADMIN]) >= 16
    console = people.browser("203.0.113.5")
    assert console.sign_in(DEMO_ADMIN, passwords[DEMO_ADMIN]).status_code == 303
    assert console.sign_in("maria@support.example", passwords["agents"]).status_code == 303
    members = people.api.get(f"/v1/workspaces/{DEMO_WORKSPACE}/members").json()["data"]
    assert {(m["user"]["email"], m["role"]) for m in members} == {(e, "agent") for e, _ in DEMO_AGENTS}
    assert {e for e, _ in DEMO_AGENTS} == set(demo.AGENTS)  # every demo assignee is an agent
    team = people.api.get(f"/v1/workspaces/{DEMO_WORKSPACE}/teams/frontline").json()
    assert (team["rule"], [m["email"] for m in team["members"]]) == (
        "round_robin",
        ["maria@support.example", "tom@support.example"],
    )
    admin = people.api.get(f"/v1/users?email={DEMO_ADMIN}").json()["data"][0]
    assert admin["server_admin"] is True
    assert demo_people(people.core) is None  # a restart keeps them (and prints no password)
