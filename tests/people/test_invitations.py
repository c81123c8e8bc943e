"""Invitations: a one-time link (hashed at rest, 7 days) that creates the user or adds an existing one after
their password; over the API and through the console page, which signs the person in."""

from __future__ import annotations

import re

from sqlalchemy import select

from deskbase.core.people_tables import invitations
from tests.people.conftest import People


def invite(people: People, ws: str, email: str, role: str = "agent") -> dict[str, str]:
    r = people.api.post(f"/v1/workspaces/{ws}/invitations", json={"email": email, "role": role})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    return r.json()  # type: ignore[no-any-return]


def test_accepting_creates_the_user_once(people: People) -> None:
    ws = people.workspace()
    inv = invite(people, ws, "New.Agent@People.example", "light_agent")
    assert inv["email"] == "new.agent@people.example" and inv["path"] == f"/invite/{inv['token']}"
    with people.core.db.read() as conn:
        stored = conn.execute(select(invitations).where(invitations.c.id == inv["id"])).one()
    assert inv["token"] not in str(tuple(stored)) and stored.token_hash != inv["token"]
    assert [i["id"] for i in people.api.get(f"/v1/workspaces/{ws}/invitations").json()["data"]] == [inv["id"]]
    url = f"/v1/invitations/{inv['token']}/accept"
    weak = people.api.post(url, json={"name": "Nia", "password": "12345678"}, token=None)
    assert weak.status_code == 422
    r = people.api.post(url, json={"name": "Nia", "password": "lantern quiet harbour"}, token=None)
    assert r.status_code == 200, r.text
    assert (r.json()["user"]["email"], r.json()["workspace"]) == ("new.agent@people.example", ws)
    members = people.api.get(f"/v1/workspaces/{ws}/members").json()["data"]
    assert [(m["user"]["name"], m["role"]) for m in members] == [("Nia", "light_agent")]
    used = people.api.post(url, json={"name": "Nia", "password": "lantern quiet harbour"}, token=None)
    assert used.status_code == 409 and used.json()["error"]["details"]["reason"] == "used"
    assert people.api.get(f"/v1/workspaces/{ws}/invitations").json()["data"] == []
    assert people.browser().sign_in("new.agent@people.example", "lantern quiet harbour").status_code == 303


def test_an_invitation_expires_after_seven_days(people: People) -> None:
    ws = people.workspace()
    inv = invite(people, ws, "late@people.example")
    people.clock.advance(days=7, seconds=1)
    r = people.api.post(
        f"/v1/invitations/{inv['token']}/accept",
        json={"name": "Late", "password": "tulip granite echo"},
        token=None,
    )
    assert r.status_code == 409 and r.json()["error"]["details"]["reason"] == "expired"
    assert people.browser().get(f"/invite/{inv['token']}").status_code == 409


def test_unknown_links_and_revoked_invitations(people: People) -> None:
    ws = people.workspace()
    fake = "dsi_" + "A" * 43
    assert (
        people.api.post(f"/v1/invitations/{fake}/accept", json={"password": "x"}, token=None).status_code
        == 404
    )
    assert (
        people.api.post("/v1/invitations/nope/accept", json={"password": "x"}, token=None).status_code == 400
    )
    inv = invite(people, ws, "gone@people.example")
    assert people.api.delete(f"/v1/workspaces/{ws}/invitations/{inv['id']}").status_code == 204
    assert people.browser().get(f"/invite/{inv['token']}").status_code == 404
    again = invite(people, ws, "twice@people.example")
    newer = invite(people, ws, "twice@people.example", "analyst")  # replaces the pending one
    assert people.browser().get(f"/invite/{again['token']}").status_code == 404
    assert "Analyst" in people.browser().get(f"/invite/{newer['token']}").text


def test_an_existing_account_proves_itself_with_its_password(people: People) -> None:
    home, other = people.workspace(), people.workspace()
    ann = people.person(home)
    inv = invite(people, other, ann.email, "analyst")
    url = f"/v1/invitations/{inv['token']}/accept"
    wrong = people.api.post(url, json={"password": "not her password at all"}, token=None)
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "wrong password for this account"
    ok = people.api.post(url, json={"password": ann.password}, token=None)
    assert ok.status_code == 200 and ok.json()["user"]["id"] == ann.id
    roles = {
        m["workspace"]: m["role"]
        for m in people.api.get("/v1/users/me", token=ann.token).json()["memberships"]
    }
    assert roles == {home: "agent", other: "analyst"}
    member = people.api.post(
        f"/v1/workspaces/{other}/invitations", json={"email": ann.email, "role": "agent"}
    )
    assert member.status_code == 409


def test_the_console_page_accepts_and_signs_in(people: People) -> None:
    ws = people.workspace()
    inv = invite(people, ws, "page@people.example")
    browser = people.browser()
    page = browser.get(inv["path"])
    assert page.status_code == 200 and "page@people.example" in page.text and 'name="name"' in page.text
    bad = browser.post(inv["path"], {"name": "Pat", "password": "short", "time_zone": "Europe/Lisbon"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text and "at least 8" in bad.text.lower()
    r = browser.post(
        inv["path"], {"name": "Pat", "password": "velvet comet saddle", "time_zone": "Europe/Lisbon"}
    )
    assert (r.status_code, r.headers["location"]) == (303, f"/w/{ws}/queue")
    queue = browser.get(f"/w/{ws}/queue")
    assert queue.status_code == 200 and re.search(r"Signed in as </span>\s*Pat", queue.text)
    me = people.api.get("/v1/users?email=page@people.example").json()["data"][0]
    assert me["time_zone"] == "Europe/Lisbon"
