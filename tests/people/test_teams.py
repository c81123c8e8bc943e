"""Teams over HTTP: CRUD and who may do it, the assignee and team checks on every write path (records,
batch), and each assignment rule as a ticket enters a team: round-robin order (kept in the store), least
loaded under capacity, offline members skipped, nobody eligible leaves the ticket unassigned; the rule's
change is its own version in the change log, with the rule as its actor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from deskbase.core.agents import ONLINE_WINDOW
from deskbase.core.people_tables import teams
from tests.people.conftest import People, Person


def ticket(team: str | None = None, **extra: Any) -> dict[str, Any]:
    data = {"subject": "Printer on fire", "status": "open", "priority": "high", **extra}
    if team is not None:
        data["team"] = team
    return {"data": data}


def online(people: People, *who: Person) -> None:
    for p in who:
        people.core.sessions.open(None, p.id)


def create(people: People, ws: str, body: dict[str, Any]) -> dict[str, Any]:
    r = people.api.post(f"/v1/workspaces/{ws}/records/tickets", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def put_team(people: People, ws: str, team: str, rule: str, members: list[Any]) -> Any:
    return people.api.put(
        f"/v1/workspaces/{ws}/teams/{team}", json={"name": team.title(), "rule": rule, "members": members}
    )


def assignees(people: People, ws: str, team: str, n: int) -> list[str | None]:
    return [create(people, ws, ticket(team))["data"].get("assignee") for _ in range(n)]


def test_teams_crud_and_who_may_change_them(people: People) -> None:
    ws = people.workspace()
    a, b = people.person(ws), people.person(ws)
    outsider = people.person(people.workspace())
    r = put_team(people, ws, "billing", "round_robin", [a.email, {"user": b.id, "capacity": 3}])
    assert r.status_code == 201, r.text
    team = r.json()
    assert [(m["user"], m["email"], m["capacity"]) for m in team["members"]] == [
        (a.id, a.email, None),
        (b.id, b.email, 3),
    ]
    assert (team["rule"], team["version"]) == ("round_robin", 1)
    assert put_team(people, ws, "billing", "manual", [b.email]).status_code == 200
    got = people.api.get(f"/v1/workspaces/{ws}/teams/billing", token=a.token).json()
    assert (got["rule"], [m["user"] for m in got["members"]], got["version"]) == ("manual", [b.id], 2)
    assert [t["id"] for t in people.api.get(f"/v1/workspaces/{ws}/teams", token=a.token).json()["data"]] == [
        "billing"
    ]
    # an agent reads but cannot change; a user of another workspace sees nothing
    assert put_team(people, ws, "x", "manual", []).status_code == 201
    r = people.api.put(f"/v1/workspaces/{ws}/teams/x", json={"name": "X"}, token=a.token)
    assert r.status_code == 403 and r.json()["error"]["details"]["permission"] == "admin"
    assert people.api.get(f"/v1/workspaces/{ws}/teams", token=outsider.token).status_code == 404
    # members must be members of the workspace; the rule must be known
    bad = put_team(people, ws, "billing", "manual", [outsider.email])
    assert (
        bad.status_code == 422 and bad.json()["error"]["details"]["errors"][0]["pointer"] == "/members/0/user"
    )
    assert put_team(people, ws, "billing", "fastest", []).status_code == 422
    assert put_team(people, ws, "billing", "manual", [a.email, a.id]).status_code == 422
    assert people.api.delete(f"/v1/workspaces/{ws}/teams/x").status_code == 204
    assert people.api.get(f"/v1/workspaces/{ws}/teams/x").status_code == 404


def test_a_member_who_leaves_the_workspace_leaves_its_teams(people: People) -> None:
    ws = people.workspace()
    a, b = people.person(ws), people.person(ws)
    put_team(people, ws, "t1", "manual", [a.email, b.email])
    assert people.api.delete(f"/v1/workspaces/{ws}/members/{a.id}").status_code == 204
    assert [m["user"] for m in people.api.get(f"/v1/workspaces/{ws}/teams/t1").json()["members"]] == [b.id]


def test_the_assignee_must_be_an_agent_on_every_write_path(people: People) -> None:
    ws = people.workspace()
    agent, light = people.person(ws), people.person(ws, role="light_agent")
    base = f"/v1/workspaces/{ws}"
    for value in ("nobody-here", light.email, agent.email.upper(), agent.id):
        r = people.api.post(f"{base}/records/tickets", json=ticket(assignee=value))
        assert r.status_code == 422, (value, r.text)
        err = r.json()["error"]
        assert err["details"]["errors"] == [
            {"pointer": "/data/assignee", "message": "not an agent of the workspace"}
        ]
        assert "assignee" in err["message"] and repr(value) in err["message"]
    assert (
        "lower-case"
        in people.api.post(f"{base}/records/tickets", json=ticket(assignee=agent.email.upper())).json()[
            "error"
        ]["message"]
    )
    t = create(people, ws, ticket(assignee=agent.email))
    assert t["data"]["assignee"] == agent.email
    # unassigning is always allowed
    r = people.api.patch(f"{base}/records/tickets/{t['id']}", json={"data": {"assignee": None}})
    assert r.status_code == 200 and "assignee" not in r.json()["data"]
    # a batch names the failing operation, and writes nothing
    r = people.api.post(
        f"{base}/batch",
        json={
            "operations": [
                {"type": "upsert_record", "collection": "tickets", "data": ticket()["data"]},
                {
                    "type": "patch_record",
                    "collection": "tickets",
                    "id": t["id"],
                    "data": {"assignee": "ghost"},
                },
            ]
        },
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"]["operation_index"] == 1
    assert "assignee" not in people.api.get(f"{base}/records/tickets/{t['id']}").json()["data"]
    # a ticket whose agent has left keeps the name until someone changes it
    t2 = create(people, ws, ticket(assignee=agent.email))
    assert people.api.delete(f"{base}/members/{agent.id}").status_code == 204
    r = people.api.patch(f"{base}/records/tickets/{t2['id']}", json={"data": {"status": "waiting"}})
    assert r.status_code == 200 and r.json()["data"]["assignee"] == agent.email
    r = people.api.patch(f"{base}/records/tickets/{t2['id']}", json={"data": {"assignee": agent.email}})
    assert r.status_code == 200  # unchanged: not checked again
    r = people.api.post(f"{base}/records/tickets", json=ticket(assignee=agent.email))
    assert r.status_code == 422


def test_a_workspace_without_members_keeps_free_text_assignees(people: People) -> None:
    ws = people.workspace()
    assert create(people, ws, ticket(assignee="whoever"))["data"]["assignee"] == "whoever"


def test_the_team_must_exist(people: People) -> None:
    ws = people.workspace()
    r = people.api.post(f"/v1/workspaces/{ws}/records/tickets", json=ticket("no-such-team"))
    assert r.status_code == 422
    assert r.json()["error"]["details"]["errors"] == [{"pointer": "/data/team", "message": "no such team"}]


def test_round_robin_goes_in_order_and_keeps_its_place_in_the_store(people: People) -> None:
    ws = people.workspace()
    a, b, c = people.person(ws), people.person(ws), people.person(ws)
    online(people, a, b, c)
    put_team(people, ws, "rr", "round_robin", [a.email, b.email, c.email])
    assert assignees(people, ws, "rr", 4) == [a.email, b.email, c.email, a.email]
    with people.core.db.read() as conn:
        assert conn.execute(select(teams.c.last_assigned).where(teams.c.id == "rr")).scalar() == a.id
    # editing the team keeps the rotation's place
    put_team(people, ws, "rr", "round_robin", [a.email, b.email, c.email])
    assert assignees(people, ws, "rr", 1) == [b.email]


def test_offline_members_and_non_agents_are_skipped(people: People) -> None:
    ws = people.workspace()
    a, b, c = people.person(ws), people.person(ws), people.person(ws, role="light_agent")
    online(people, a, c)  # b never signed in; c is online but cannot work tickets
    put_team(people, ws, "rr", "round_robin", [a.email, b.email, c.email])
    assert assignees(people, ws, "rr", 3) == [a.email, a.email, a.email]


def test_a_session_idle_past_the_window_is_offline(people: People) -> None:
    ws = people.workspace()
    a, b = people.person(ws), people.person(ws)
    online(people, a)
    people.clock.advance(seconds=ONLINE_WINDOW.total_seconds() + 1)
    try:
        online(people, b)
        put_team(people, ws, "rr", "round_robin", [a.email, b.email])
        assert assignees(people, ws, "rr", 2) == [b.email, b.email]
    finally:
        people.clock.advance(seconds=-ONLINE_WINDOW.total_seconds() - 1)


def test_least_loaded_respects_capacity(people: People) -> None:
    ws = people.workspace()
    a, b, c = people.person(ws), people.person(ws), people.person(ws)
    online(people, a, b, c)
    for _ in range(2):
        create(people, ws, ticket(assignee=a.email))
    create(people, ws, ticket(assignee=b.email, status="resolved"))  # solved tickets are no load
    members = [a.email, {"user": b.email, "capacity": 2}, {"user": c.email, "capacity": 0}]
    put_team(people, ws, "ll", "least_loaded", members)
    # b (0) twice, then b is full at 2: a (2) and b are equal but b may take no more -> a, then a again
    assert assignees(people, ws, "ll", 4) == [b.email, b.email, a.email, a.email]


def test_nobody_eligible_or_a_manual_team_leaves_the_ticket_unassigned(people: People) -> None:
    ws = people.workspace()
    a = people.person(ws)  # offline
    put_team(people, ws, "rr", "round_robin", [a.email])
    put_team(people, ws, "man", "manual", [a.email])
    online(people, a)
    put_team(people, ws, "empty", "least_loaded", [])
    assert assignees(people, ws, "man", 1) == [None]
    assert assignees(people, ws, "empty", 1) == [None]


def test_a_ticket_moved_into_a_team_is_assigned_and_the_rule_is_in_the_history(people: People) -> None:
    ws = people.workspace()
    a, b = people.person(ws), people.person(ws)
    online(people, a, b)
    put_team(people, ws, "one", "manual", [a.email])
    put_team(people, ws, "two", "round_robin", [b.email])
    t = create(people, ws, ticket("one"))
    assert "assignee" not in t["data"]
    base = f"/v1/workspaces/{ws}/records/tickets/{t['id']}"
    moved = people.api.patch(base, json={"data": {"team": "two"}}, token=a.token)
    assert moved.json()["data"].get("assignee") == b.email, moved.text
    history = people.api.get(f"{base}/history").json()["data"]
    before, last = history[-2], history[-1]
    assert (last["actor"], last["source"], last["data"]["data"]["assignee"]) == (
        {"id": "system:assignment", "name": "round_robin rule of team two"},
        "assignment",
        b.email,
    )
    assert before["actor"]["name"] == "personal" and "assignee" not in before["data"]["data"]
    assert last["at"] == before["at"]
    # staying in the team (or a solved ticket entering one) does not run the rule again
    people.api.patch(base, json={"data": {"assignee": None}})
    r = people.api.patch(base, json={"data": {"status": "waiting"}})
    assert "assignee" not in r.json()["data"]
    solved = create(people, ws, ticket("two", status="resolved"))
    assert "assignee" not in solved["data"]


def test_a_batch_of_new_tickets_spreads_over_the_least_loaded(people: People) -> None:
    ws = people.workspace()
    a, b = people.person(ws), people.person(ws)
    online(people, a, b)
    put_team(people, ws, "ll", "least_loaded", [a.email, b.email])
    ops = [{"type": "upsert_record", "collection": "tickets", "data": ticket("ll")["data"]} for _ in range(4)]
    r = people.api.post(f"/v1/workspaces/{ws}/batch", json={"operations": ops})
    assert r.status_code == 200, r.text
    got = [x["record"]["data"]["assignee"] for x in r.json()["results"]]
    assert sorted(got) == sorted([a.email, a.email, b.email, b.email])


def test_an_away_agent_is_passed_over_shown_away_and_stays_away_after_signing_out(people: People) -> None:
    ws = people.workspace()
    a, b = people.person(ws), people.person(ws)
    assert put_team(people, ws, "desk", "round_robin", [a.email, b.email]).status_code == 201
    console = people.browser()
    assert console.sign_in(a.email, a.password).status_code == 303
    online(people, b)
    # the switch in the console's header menu, and the same through the API
    page = console.get(f"/w/{ws}/queue")
    assert 'id="away-switch"' in page.text and "Set yourself away" in page.text
    switched = console.post("/settings/away", {"away": "1", "next": f"/w/{ws}/queue"})
    assert switched.status_code == 303 and switched.headers["location"] == f"/w/{ws}/queue"
    me = people.api.get("/v1/users/me", token=a.token).json()
    assert me["away"] is True
    assert assignees(people, ws, "desk", 3) == [b.email] * 3
    t = create(people, ws, ticket())
    picker = console.get(f"/w/{ws}/tickets/{t['id']}").text
    assert "· away · 0 open" in picker and 'id="away-badge"' in picker
    # signing out and in again keeps it; switching it off through the API puts them back in the rotation
    assert console.post("/signout", {}).status_code == 303
    assert console.sign_in(a.email, a.password).status_code == 303
    assert "I&#39;m back" in console.get(f"/w/{ws}/queue").text
    back = people.api.patch("/v1/users/me", json={"away": False}, token=a.token)
    assert back.status_code == 200 and back.json()["away"] is False
    assert sorted(str(x) for x in assignees(people, ws, "desk", 2)) == sorted([a.email, b.email])
    # a service token has no away switch; nor can one set someone else's
    assert people.api.patch("/v1/users/me", json={"away": True}).status_code == 404
    assert people.api.patch(f"/v1/users/{b.id}", json={"away": True}, token=a.token).status_code == 403
    assert people.api.patch("/v1/users/me", json={"away": "yes"}, token=a.token).status_code == 422


def test_an_email_change_moves_the_users_tickets_to_the_new_address_as_a_system_change(
    people: People,
) -> None:
    ws, other = people.workspace(), people.workspace()
    a, b = people.person(ws), people.person(ws)
    assert people.api.put(f"/v1/workspaces/{other}/members/{a.id}", json={"role": "agent"}).status_code == 201
    mine = [create(people, ws, ticket(assignee=a.email))["id"] for _ in range(3)]
    closed = create(people, ws, ticket(assignee=a.email, status="closed"))["id"]
    theirs = create(people, ws, ticket(assignee=b.email))["id"]
    elsewhere = create(people, other, ticket(assignee=a.email))["id"]
    # demoted in `other` before the change: the new address could not be assigned there
    assert (
        people.api.put(f"/v1/workspaces/{other}/members/{a.id}", json={"role": "analyst"}).status_code == 200
    )
    new = "renamed." + a.email
    r = people.api.patch(f"/v1/users/{a.id}", json={"email": new.upper()})
    assert r.status_code == 200 and r.json()["email"] == new

    def assignee(w: str, rid: str) -> str:
        return str(people.api.get(f"/v1/workspaces/{w}/records/tickets/{rid}").json()["data"].get("assignee"))

    assert [assignee(ws, rid) for rid in [*mine, closed]] == [new] * 4
    assert (assignee(ws, theirs), assignee(other, elsewhere)) == (b.email, a.email)
    history = people.api.get(f"/v1/workspaces/{ws}/changes", params={"limit": 1000}).json()["data"]
    moved = [c for c in history if c.get("entity_id") == mine[0] and c.get("source") == "people"]
    assert len(moved) == 1 and moved[0]["actor"]["id"] == "system:people"
    # "My open tickets" follows: the user's console lists them under the new address
    console = people.browser()
    assert console.sign_in(new, a.password).status_code == 303
    assert mine[0] in console.get(f"/w/{ws}/queue?view=mine").text
