"""A workspace that requires two-step sign-in: who may switch it on, what it does to a member who signs in
without a second factor (sent to set one up, never locked out), what it leaves alone (tokens, other
workspaces' people), and who sees a user's two-step status in the user API."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from html import unescape

import pytest

from tests.people.conftest import Console, People, Person, serve
from tests.people.test_second_factor import code, enrol, next_step, stored

__all__ = ["stored"]  # the fixture: the server on SQLite and on PostgreSQL


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    yield from serve(tmp_path_factory, signin_free_failures_address=500)


def require(people: People, ws: str, on: bool = True, token: str | None = None) -> None:
    kw = {"token": token} if token else {}
    r = people.api.patch(f"/v1/workspaces/{ws}", json={"settings": {"require_two_factor": on}}, **kw)
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["require_two_factor"] is on


def signed_in(people: People, p: Person, address: str) -> Console:
    browser = people.browser(address)
    r = browser.sign_in(p.email, p.password)
    assert r.status_code == 303, r.text
    return browser


def hidden(html: str, action: str, name: str) -> str:
    """A hidden field of the form that posts to `action`."""
    form = html.split(f'action="{action}"', 1)[1].split("</form>", 1)[0]
    found = re.search(rf'name="{name}" value="([^"]*)"', form)
    assert found, html
    return unescape(found.group(1))


def test_owners_and_admins_switch_it_on_and_it_is_audited(
    people: People, caplog: pytest.LogCaptureFixture
) -> None:
    ws = people.workspace()
    admin, agent = people.person(ws, "admin"), people.person(ws, "agent")
    refused = people.api.patch(
        f"/v1/workspaces/{ws}", json={"settings": {"require_two_factor": True}}, token=agent.token
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    bad = people.api.patch(f"/v1/workspaces/{ws}", json={"settings": {"require_two_factor": "yes"}})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["errors"][0]["pointer"] == "/settings/require_two_factor"
    before = people.api.get(f"/v1/workspaces/{ws}").json()
    with caplog.at_level(logging.INFO, logger="deskbase.audit"):
        require(people, ws, token=admin.token)
    after = people.api.get(f"/v1/workspaces/{ws}").json()
    # a merge: the other settings and the name stay
    assert after["name"] == before["name"]
    assert {k: v for k, v in after["settings"].items() if k != "require_two_factor"} == before["settings"]
    assert f"workspace {ws}: require_two_factor on, by" in caplog.text
    changes = people.api.get(f"/v1/workspaces/{ws}/changes?limit=1000").json()["data"]
    last = [c for c in changes if c["entity"] == "workspace"][-1]
    assert last["data"]["settings"]["require_two_factor"] is True
    assert people.api.patch("/v1/workspaces/nowhere", json={"name": "x"}).status_code == 404


def test_a_member_without_a_second_factor_is_sent_to_set_one_up(people: People) -> None:
    ws = people.workspace()
    p = people.person(ws, "agent")
    require(people, ws)
    browser = signed_in(people, p, "198.51.100.1")
    # every console page sends them to set it up, and back where they were going afterwards
    for path in ("/", f"/w/{ws}/queue", "/settings"):
        r = browser.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/settings/totp"), (path, r.text)
    r = browser.get(f"/w/{ws}/queue")
    assert r.headers["location"] == f"/settings/totp?next=%2Fw%2F{ws}%2Fqueue"
    page = browser.get(r.headers["location"])
    assert page.status_code == 200 and f"{ws.upper()} requires" in page.text
    assert hidden(page.text, "/settings/totp", "next") == f"/w/{ws}/queue"
    # a form post elsewhere is refused the same way, and changes nothing
    assert browser.post("/settings/profile", {"name": "Changed", "time_zone": "UTC"}).status_code == 303
    assert people.api.get(f"/v1/users/{p.id}").json()["name"] != "Changed"
    begun = browser.post("/settings/totp", {"next": f"/w/{ws}/queue"})
    assert begun.headers["location"] == f"/settings/totp?next=%2Fw%2F{ws}%2Fqueue"
    qr = browser.get(begun.headers["location"])
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', qr.text).group(1)  # type: ignore[union-attr]
    wrong = browser.post("/settings/totp/confirm", {"code": "000000", "next": f"/w/{ws}/queue"})
    assert wrong.status_code == 422 and "Not now" not in wrong.text
    done = browser.post("/settings/totp/confirm", {"code": code(people, secret), "next": f"/w/{ws}/queue"})
    assert done.status_code == 200 and done.text.count("<li><code>") == 10
    assert f'href="/w/{ws}/queue"' in done.text and 'id="totp-continue"' in done.text
    assert browser.get(f"/w/{ws}/queue").status_code == 200  # the same session goes on
    # from now on, signing in takes the code, as for anyone with two-step sign-in
    next_step(people)
    again = people.browser("198.51.100.2").sign_in(p.email, p.password)
    assert again.headers["location"] == "/signin/code?next=/"
    # and it cannot be switched off while the workspace requires it
    off = people.api.post("/v1/users/me/totp/disable", json={"password": p.password}, token=p.token)
    assert off.status_code == 409 and off.json()["error"]["details"]["reason"] == "required"
    assert off.json()["error"]["details"]["workspaces"] == [ws]
    assert people.api.get("/v1/users/me/totp", token=p.token).json()["required_by"] == [ws]


def test_tokens_other_workspaces_and_people_with_a_factor_are_left_alone(people: People) -> None:
    strict, relaxed = people.workspace(), people.workspace()
    member, outsider, ready = (
        people.person(strict, "agent"),
        people.person(relaxed, "agent"),
        people.person(strict, "agent"),
    )
    enrol(people, ready)
    require(people, strict)
    # the personal token of a member who has no second factor works as before
    assert (
        people.api.get(f"/v1/workspaces/{strict}/collections/tickets", token=member.token).status_code == 200
    )
    # a console session opened with a token is not asked either
    token_browser = people.browser("198.51.100.3")
    token_browser.client.get("/signin")
    assert token_browser.post("/signin", {"token": member.token}).status_code == 303
    assert token_browser.get(f"/w/{strict}/queue").status_code == 200
    # someone of another workspace signs in with a password alone
    assert signed_in(people, outsider, "198.51.100.4").get(f"/w/{relaxed}/queue").status_code == 200
    # someone who has it already: password, then code, then in
    browser = people.browser("198.51.100.5")
    assert browser.sign_in(ready.email, ready.password).headers["location"] == "/signin/code?next=/"


def test_a_reset_or_a_new_requirement_applies_to_open_sessions(people: People) -> None:
    ws = people.workspace()
    p = people.person(ws, "agent")
    browser = signed_in(people, p, "198.51.100.6")
    assert browser.get(f"/w/{ws}/queue").status_code == 200
    require(people, ws)
    assert browser.get(f"/w/{ws}/queue").headers["location"].startswith("/settings/totp")
    require(people, ws, on=False)  # switched off again: back in, no second factor needed
    assert browser.get(f"/w/{ws}/queue").status_code == 200
    # an admin's reset (a lost phone) sends them to set it up again, not out
    enrol(people, p)
    require(people, ws)
    assert browser.get(f"/w/{ws}/queue").status_code == 200
    assert people.api.delete(f"/v1/users/{p.id}/totp").status_code == 204
    assert browser.get(f"/w/{ws}/queue").headers["location"].startswith("/settings/totp")
    # removed from the workspace, the requirement goes with it
    assert people.api.delete(f"/v1/workspaces/{ws}/members/{p.id}").status_code == 204
    assert browser.get("/settings").status_code == 200


def test_the_user_api_shows_two_step_status_to_the_user_and_their_admins(people: People) -> None:
    ws, other = people.workspace(), people.workspace()
    admin, agent, colleague = (
        people.person(ws, "admin"),
        people.person(ws, "agent"),
        people.person(ws, "agent"),
    )
    stranger_admin = people.person(other, "admin")
    enrol(people, agent)

    def seen(token: str | None, user: Person) -> object:
        kw = {"token": token} if token else {}
        r = people.api.get(f"/v1/users/{user.id}", **kw)
        assert r.status_code == 200, r.text
        listed = people.api.get(f"/v1/users?email={user.email}", **kw).json()["data"]
        assert listed and listed[0].get("two_factor") == r.json().get("two_factor")
        return r.json().get("two_factor")

    assert seen(None, agent) == {"enabled": True}  # a server admin
    assert seen(admin.token, agent) == {"enabled": True}
    assert seen(admin.token, colleague) == {"enabled": False}
    assert seen(agent.token, agent) == {"enabled": True}
    assert seen(colleague.token, agent) is None  # a colleague sees the person, not their sign-in
    assert people.api.get(f"/v1/users/{agent.id}", token=stranger_admin.token).status_code == 404
    members = people.api.get(f"/v1/workspaces/{ws}/members", token=admin.token).json()["data"]
    assert {m["user"]["email"]: m["user"]["two_factor"]["enabled"] for m in members} == {
        admin.email: False, agent.email: True, colleague.email: False,
    }  # fmt: skip
    listed = people.api.get(f"/v1/workspaces/{ws}/members", token=colleague.token).json()["data"]
    assert [("two_factor" in m["user"]) for m in listed if m["user"]["id"] != colleague.id] == [False, False]
    one = people.api.get(f"/v1/workspaces/{ws}/members/{agent.id}", token=admin.token).json()
    assert one["user"]["two_factor"] == {"enabled": True}
    me = people.api.get("/v1/users/me", token=agent.token).json()
    assert me["two_factor"] == {"enabled": True}
    assert "secret" not in str(me)


def test_the_console_people_page_shows_each_members_two_step_and_switches_the_requirement(
    people: People,
) -> None:
    ws = people.workspace()
    admin, ready, agent = people.person(ws, "admin"), people.person(ws, "agent"), people.person(ws, "agent")
    enrol(people, ready)
    browser = signed_in(people, admin, "198.51.100.7")
    page = browser.get(f"/w/{ws}/settings/people")
    assert page.status_code == 200, page.text
    cells = dict(
        re.findall(r"<td>([^<]+@people\.example)</td>.*?<td class=\"two-factor\">(\w+)</td>", page.text, re.S)
    )
    assert cells == {admin.email: "Off", ready.email: "On", agent.email: "Off"}
    assert "2 of 3 members have not set it up yet." in page.text
    assert f'href="/w/{ws}/settings/people" aria-current="page">People</a>' in page.text
    saved = browser.post(f"/w/{ws}/settings/people/two-step", {"require_two_factor": "on"})
    assert saved.headers["location"] == f"/w/{ws}/settings/people?saved=on"
    assert people.api.get(f"/v1/workspaces/{ws}").json()["settings"]["require_two_factor"] is True
    # the admin is a member too: set it up first, then back to the page
    sent = browser.get(saved.headers["location"])
    assert sent.headers["location"] == f"/settings/totp?next=%2Fw%2F{ws}%2Fsettings%2Fpeople%3Fsaved%3Don"
    enrol(people, admin)
    page = browser.get(saved.headers["location"])
    assert page.status_code == 200 and "Two-step sign-in is now required." in page.text
    assert 'id="require-two-factor" name="require_two_factor" checked' in page.text
    assert browser.post(f"/w/{ws}/settings/people/two-step", {}).status_code == 303
    assert people.api.get(f"/v1/workspaces/{ws}").json()["settings"]["require_two_factor"] is False
    # an agent is not shown the page, nor the link
    agent_browser = signed_in(people, agent, "198.51.100.8")
    assert agent_browser.get(f"/w/{ws}/settings/people").status_code == 403
    assert "/settings/people" not in agent_browser.get(f"/w/{ws}/queue").text
    assert (
        agent_browser.post(f"/w/{ws}/settings/people/two-step", {"require_two_factor": "on"}).status_code
        == 403
    )


def test_the_requirement_on_either_store(stored: People) -> None:
    """The settings (JSON on SQLite, JSONB on PostgreSQL) and the membership join that decide it."""
    ws = stored.workspace()
    p = stored.person(ws, "agent")
    require(stored, ws)
    browser = signed_in(stored, p, "198.51.100.9")
    assert browser.get(f"/w/{ws}/queue").headers["location"].startswith("/settings/totp")
    enrol(stored, p)
    assert browser.get(f"/w/{ws}/queue").status_code == 200
    assert stored.api.get(f"/v1/users/{p.id}").json()["two_factor"] == {"enabled": True}
