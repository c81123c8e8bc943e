"""Password reset by email: "Forgot password?" sends a one-time link through the workspace's outbox to a real
SMTP server; the answer is the same whatever the email; requests are throttled per account and per address;
a used or expired link fails clearly; using one ends the person's sessions; without a mailbox the page says
to ask an admin; a link is mailed only where the mailbox's admins could not gain from reading it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from deskbase.core.people_tables import password_resets
from deskbase.mail import password_reset
from deskbase.mail.tables import mail_outbox
from tests.mail.sink import Sink, sink
from tests.people.conftest import SYSTEM, Console, People, Person, serve

PUBLIC = "https://desk.example.com"
LINK = re.compile(re.escape(PUBLIC) + r"(/reset/dsr_[A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def smtp() -> Iterator[Sink]:
    with sink() as s:
        yield s


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    # the SMTP sink is on 127.0.0.1, which mail/guard.py refuses unless allowed
    yield from serve(
        tmp_path_factory,
        public_url=PUBLIC + "/",
        webhook_allow_networks="127.0.0.0/8",
        notifications=False,
        signin_free_failures_address=50,
    )


def mailbox(people: People, smtp: Sink, ws: str) -> None:
    box = {"address": f"help@{ws}.example", "name": "Help", "outbound": smtp.outbound()}
    assert people.api.put(f"/v1/workspaces/{ws}/mailboxes/support", json=box).status_code == 201


def forgot(browser: Console, email: str) -> Any:
    browser.client.get("/signin/forgot")
    return browser.post("/signin/forgot", {"email": email})


def main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def resets(people: People, user_id: str) -> int:
    with people.core.db.read() as conn:
        q = select(password_resets.c.token_hash).where(password_resets.c.user_id == user_id)
        return len(conn.execute(q).all())


def test_without_a_mailbox_the_page_says_to_ask_an_admin(people: People) -> None:
    """Runs first: no workspace of this server has a mailbox yet."""
    browser = people.browser("203.0.113.1")
    page = browser.get("/signin")
    assert 'href="/signin/forgot"' in page.text
    form = browser.get("/signin/forgot")
    assert form.status_code == 200 and "deskbase users reset-password" in form.text
    assert 'name="email"' not in form.text
    p = people.person(people.workspace())
    r = forgot(browser, p.email)
    assert r.status_code == 200 and "cannot send password reset emails" in r.text
    assert resets(people, p.id) == 0


def test_a_reset_email_carries_a_working_one_time_link(people: People, smtp: Sink) -> None:
    smtp.reset()
    ws = people.workspace()
    mailbox(people, smtp, ws)
    p = people.person(ws)
    signed_in = people.browser("203.0.113.2")
    assert signed_in.sign_in(p.email, p.password).status_code == 303
    browser = people.browser("203.0.113.2")
    assert 'name="email"' in browser.get("/signin/forgot").text
    r = forgot(browser, p.email.upper())  # typed as the person likes
    assert r.status_code == 200 and "a link to choose a new" in r.text
    (got,) = smtp.wait_for(1)
    assert got.rcpt == [p.email] and got.msg["Subject"] == "Reset your deskbase password"
    assert got.msg["Auto-Submitted"] == "auto-generated"
    body = got.msg.get_content()
    path = LINK.search(body).group(1)  # type: ignore[union-attr]
    assert "within 60 minutes" in body
    with people.core.db.read() as conn:
        (row,) = conn.execute(select(mail_outbox).where(mail_outbox.c.workspace_id == ws)).all()
    assert row.kind == "notify" and row.ticket_id == f"reset:{p.id}"
    # the link works once, and ends the person's other sessions
    reader = people.browser("203.0.113.3")
    assert p.email in reader.get(path).text
    assert reader.post(path, {"password": "lichen drum sparrow"}).status_code == 303
    assert signed_in.get("/").headers["location"].startswith("/signin")
    used = people.browser("203.0.113.3").get(path)
    assert used.status_code == 404 and "not valid (used or expired)" in used.text
    assert people.browser("203.0.113.4").sign_in(p.email, "lichen drum sparrow").status_code == 303
    with people.core.db.read() as conn:  # sent: the outbox keeps no copy of the link
        message = conn.execute(select(mail_outbox.c.message).where(mail_outbox.c.id == row.id)).scalar()
    assert message == ""


def test_an_emailed_link_expires_within_the_hour_and_one_reset_spends_all(people: People, smtp: Sink) -> None:
    smtp.reset()
    ws = people.workspace()
    mailbox(people, smtp, ws)
    p = people.person(ws)
    browser = people.browser("203.0.113.5")
    forgot(browser, p.email)
    forgot(browser, p.email)
    first, second = (LINK.search(m.msg.get_content()).group(1) for m in smtp.wait_for(2))  # type: ignore[union-attr]
    assert first != second
    assert browser.post(second, {"password": "quiver basalt noodle"}).status_code == 303
    assert people.browser("203.0.113.5").get(first).status_code == 404  # spent by the other's use
    forgot(browser, p.email)
    third = LINK.search(smtp.wait_for(3)[2].msg.get_content()).group(1)  # type: ignore[union-attr]
    people.clock.advance(minutes=61)
    late = people.browser("203.0.113.5").get(third)
    assert late.status_code == 404 and "used or expired" in late.text
    people.clock.advance(days=1, seconds=1)


def test_the_answer_never_tells_whether_the_email_exists(people: People, smtp: Sink) -> None:
    smtp.reset()
    ws = people.workspace()
    mailbox(people, smtp, ws)
    p = people.person(ws)
    admin = people.core.people.create(SYSTEM, {"email": "root@people.example", "server_admin": True})
    answers = [forgot(people.browser(f"203.0.113.{10 + i}"), e) for i, e in enumerate(
        [p.email, "nobody-at-all@people.example", admin["email"], "not an email"]
    )]  # fmt: skip
    assert {a.status_code for a in answers} == {200}
    assert len({main(a.text) for a in answers}) == 1
    assert len(smtp.wait_for(1)) == 1 and smtp.received[0].rcpt == [p.email]
    assert resets(people, admin["id"]) == 0


def test_requests_are_throttled_per_account_and_per_address(people: People, smtp: Sink) -> None:
    people.clock.advance(days=1, seconds=1)
    ws = people.workspace()
    mailbox(people, smtp, ws)
    p = people.person(ws)
    for i in range(4):  # three free requests for an account, the fourth starts the waits
        assert forgot(people.browser(f"198.51.100.{40 + i}"), p.email).status_code == 200
    held = forgot(people.browser("198.51.100.50"), p.email)
    assert (
        held.status_code == 429 and "too many password reset requests; try again in 2 s" in held.text.lower()
    )
    ghost = "ghost-reset@people.example"
    for i in range(4):  # an email without an account is throttled exactly alike
        forgot(people.browser(f"198.51.100.{60 + i}"), ghost)
    assert forgot(people.browser("198.51.100.70"), ghost).status_code == 429
    spray = people.browser("2001:db8:77::1")
    for i in range(21):  # twenty free requests from one address (its /64), whatever the emails
        assert forgot(spray, f"spray{i}@people.example").status_code == 200
    neighbour = people.browser("2001:db8:77::2")
    assert forgot(neighbour, "spray-last@people.example").status_code == 429
    people.clock.advance(days=1, seconds=1)


def test_a_link_is_mailed_only_where_the_mailbox_admins_gain_nothing(people: People, smtp: Sink) -> None:
    """Whoever administers a workspace chooses its SMTP server, so they could read a link mailed through it."""
    core = people.core
    ws, other = people.workspace(), people.workspace()
    mailbox(people, smtp, ws)
    agent = people.person(ws)
    assert password_reset.send(core, agent.email) is True
    owner = people.person(ws, role="owner")
    assert password_reset.send(core, owner.email) is False
    two = people.person(ws)
    assert (
        people.api.put(f"/v1/workspaces/{other}/members/{two.id}", json={"role": "agent"}).status_code == 201
    )
    assert password_reset.send(core, two.email) is False
    nowhere = people.person()
    assert password_reset.send(core, nowhere.email) is False
    elsewhere = people.person(other)  # a workspace without a mailbox
    assert password_reset.send(core, elsewhere.email) is False
    suspended = people.person(ws)
    people.api.patch(f"/v1/users/{suspended.id}", json={"status": "suspended"})
    assert password_reset.send(core, suspended.email) is False
    # a second factor guards the account whatever the link does: then the owner may get one
    _enrol(people, owner)
    assert password_reset.send(core, owner.email) is True


def _enrol(people: People, p: Person) -> None:
    import pyotp

    secret = people.api.post("/v1/users/me/totp", token=p.token).json()["secret"]
    now = int(people.clock.now().timestamp()) // 30
    code = pyotp.TOTP(secret).generate_otp(now)
    assert people.api.post("/v1/users/me/totp/confirm", json={"code": code}, token=p.token).status_code == 200
