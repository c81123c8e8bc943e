"""The console's bell and notifications page for a signed-in person: the count in the header, the list
unread first, opening one marks it read and goes to its ticket, "mark all read"; a token session has no bell."""

from __future__ import annotations

import re

from tests.notify.conftest import World


def test_the_bell_counts_and_the_page_marks_read(world: World) -> None:
    ws = world.people.workspace()
    maria, tom = world.people.person(ws), world.people.person(ws)
    first, second = world.ticket(ws, subject="Printer on fire"), world.ticket(ws, subject="VPN down")
    world.assign(ws, first, maria.email, world.actor(tom))
    world.assign(ws, second, maria.email, world.actor(tom))
    world.drain()
    b = world.people.browser()
    assert b.sign_in(maria.email, maria.password).status_code == 303
    queue = b.get(f"/w/{ws}/queue").text
    assert 'aria-label="Notifications, 2 unread"' in queue
    page = b.get(f"/w/{ws}/notifications").text
    assert page.index("VPN down") < page.index("Printer on fire")  # newest first
    nid = re.search(r'id="n-([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = b.post(f"/w/{ws}/notifications/{nid}/read", {"next": f"/w/{ws}/tickets/{second['id']}"})
    assert r.status_code == 303 and r.headers["location"] == f"/w/{ws}/tickets/{second['id']}"
    assert 'aria-label="Notifications, 1 unread"' in b.get(f"/w/{ws}/notifications").text
    r = b.post(f"/w/{ws}/notifications/{nid}/read", {"next": "https://evil.example/"})
    assert r.headers["location"] == f"/w/{ws}/notifications"  # never off-site
    assert b.post(f"/w/{ws}/notifications/read-all", {}).status_code == 303
    assert 'aria-label="Notifications, 0 unread"' in b.get(f"/w/{ws}/notifications").text


def test_another_persons_notification_cannot_be_marked(world: World) -> None:
    ws = world.people.workspace()
    maria, tom = world.people.person(ws), world.people.person(ws)
    world.assign(ws, world.ticket(ws), maria.email, world.actor(tom))
    world.drain()
    nid = world.mine(ws, maria)[0]["id"]
    b = world.people.browser()
    b.sign_in(tom.email, tom.password)
    assert b.post(f"/w/{ws}/notifications/{nid}/read", {}).status_code == 404
    assert world.mine(ws, maria)[0]["read"] is False


def test_a_token_session_has_no_bell(world: World) -> None:
    ws = world.people.workspace()
    b = world.people.browser()
    r = b.post("/signin", {"token": world.people.api.token})
    assert r.status_code == 303
    page = b.get(f"/w/{ws}/queue").text
    assert 'id="bell"' not in page
    assert b.get(f"/w/{ws}/notifications").status_code == 404


def test_settings_choose_how_each_kind_reaches_you(world: World) -> None:
    ws = world.people.workspace()
    maria = world.people.person(ws)
    b = world.people.browser()
    b.sign_in(maria.email, maria.password)
    page = b.get("/settings").text
    assert 'name="mention.in_app"' in page and 'name="mention.email"' in page
    form = {f"{k}.in_app": "on" for k in ("assigned", "customer_reply", "mention", "sla_warning")}
    r = b.post("/settings/notifications", {**form, "mention.email": "on"})
    assert r.status_code == 303
    kinds = {k["kind"]: k for k in world.notes.my_preferences(world.actor(maria))["kinds"]}
    assert kinds["mention"] == {**kinds["mention"], "in_app": True, "email": True}
    assert kinds["sla_breach"]["in_app"] is False and kinds["assigned"]["email"] is False
