"""Settings → Mailboxes through the console: admins only; add, edit (a blank password keeps the stored one,
"forget" clears it), delete with a confirmation, bad input shown beside its field with nothing lost but the
passwords (never sent back), the outbound queue's counts, and the connection test against a real SMTP server
(aiosmtpd) when this server's mail service has one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from deskbase.config import Settings
from deskbase.core.clock import FixedClock
from deskbase.mail.service import Mail
from deskbase.mail.tables import mail_outbox
from deskbase.server import build
from deskbase.web import mailboxes as mb
from tests.conftest import START
from tests.serverproc import free_port
from tests.web.conftest import WS, Console, seed_workspace

PAGE = f"/w/{WS}/settings/mailboxes"
IMAP_SECRET = "imap-s3cret-never-shown"
SMTP_SECRET = "smtp-s3cret-never-shown"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    data = tmp_path_factory.mktemp("mailboxes-page")
    settings = Settings(
        reply_hold_seconds=0,
        data_dir=str(data),
        replicate=False,
        sla_scheduler=False,
        webhooks=False,
        imap_fetch=False,
        webhook_allow_networks="127.0.0.0/8",  # the connection test's SMTP server is on loopback
    )
    core, app = build(settings, FixedClock(START))
    raw, _ = core.tokens.ensure_admin_token(data)
    seed = seed_workspace(core)
    with TestClient(app) as client:
        assert app.state.console.warmed()
        yield Console(client, core, raw, seed)


@pytest.fixture
def admin(server: Console) -> Console:
    server.client.cookies.clear()
    assert server.sign_in().status_code == 303
    return server


def mail(c: Console) -> Mail:
    return c.core.extensions[Mail]  # type: ignore[no-any-return]


def fields(mid: str, **over: str) -> dict[str, str]:
    """The add form as a browser posts it, for an IMAP mailbox that sends through SMTP."""
    values = {
        "id": mid,
        "address": f"{mid}@acme.example",
        "name": "Acme Support",
        "inbound_kind": "imap",
        "imap_host": "imap.acme.example",
        "imap_port": "",
        "imap_tls": "ssl",
        "imap_username": "support",
        "imap_password": IMAP_SECRET,
        "imap_folder": "",
        "smtp_host": "smtp.acme.example",
        "smtp_port": "2525",
        "smtp_tls": "starttls",
        "smtp_username": "support",
        "smtp_password": SMTP_SECRET,
        "auto_acknowledge": "on",
    }
    values.update(over)
    return {k: v for k, v in values.items() if v is not None}


def passwords(c: Console, mid: str) -> tuple[str | None, str | None]:
    row = mail(c).mailboxes.row(WS, mid)
    box = mail(c).mailboxes
    return box.password(row.inbound_password), box.password(row.outbound_password)


def card(html: str, mid: str) -> str:
    m = re.search(rf'<article class="trigger-card mailbox-card" id="mailbox-{mid}".*?</article>', html, re.S)
    assert m, f"no card for {mid}"
    return m.group(0)


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_admins_reach_it_from_the_nav_and_from_settings(admin: Console) -> None:
    assert f'href="{PAGE}"' in admin.get(f"/w/{WS}/queue").text
    assert f'<a href="{PAGE}">Mailboxes of Acme Support</a>' in admin.get("/settings").text
    page = admin.get(PAGE)
    assert page.status_code == 200 and 'aria-current="page">Mailboxes</a>' in page.text
    assert "Add a mailbox" in page.text


def test_add_a_mailbox_its_passwords_are_sealed_and_never_shown(admin: Console) -> None:
    r = admin.post(PAGE, fields("help"))
    assert (r.status_code, r.headers["location"]) == (303, f"{PAGE}?created=help")
    stored = mail(admin).mailboxes.get(WS, "help")
    assert stored["inbound"] == {
        "kind": "imap",
        "host": "imap.acme.example",
        "port": 993,
        "tls": "ssl",
        "username": "support",
        "folder": "INBOX",
        "password_set": True,
    }
    assert stored["outbound"]["port"] == 2525 and stored["auto_acknowledge"] is True
    assert passwords(admin, "help") == (IMAP_SECRET, SMTP_SECRET)
    page = admin.get(f"{PAGE}?created=help").text
    assert "Added mailbox help." in page
    shown = text(card(page, "help"))
    assert "Mail comes in by IMAP imap.acme.example:993 (SSL/TLS), folder INBOX" in shown
    assert "Replies leave by smtp.acme.example:2525 (STARTTLS)" in shown and "Auto-acknowledge On" in shown
    edit = admin.get(f"{PAGE}/help").text
    for html in (page, edit):
        assert IMAP_SECRET not in html and SMTP_SECRET not in html


def test_edit_keeps_a_password_left_blank_and_forgets_one_on_request(admin: Console) -> None:
    assert admin.post(PAGE, fields("keep")).status_code == 303
    edit = admin.get(f"{PAGE}/keep").text
    assert 'id="mb-imap_host" name="imap_host" type="text" value="imap.acme.example"' in edit
    assert 'name="imap_password" type="password" autocomplete="new-password"' in edit
    assert re.search(r'name="imap_password" type="password"[^>]*value=', edit) is None
    assert "A password is stored: leave this blank to keep it." in edit
    form = fields("keep", imap_folder="Support", imap_password="", smtp_password="", auto_acknowledge="")
    del form["id"]
    r = admin.post(f"{PAGE}/keep", form)
    assert (r.status_code, r.headers["location"]) == (303, f"{PAGE}?saved=keep")
    stored = mail(admin).mailboxes.get(WS, "keep")
    assert stored["inbound"]["folder"] == "Support" and stored["auto_acknowledge"] is False
    assert passwords(admin, "keep") == (IMAP_SECRET, SMTP_SECRET)
    form |= {"smtp_password_forget": "on"}
    assert admin.post(f"{PAGE}/keep", form).status_code == 303
    assert passwords(admin, "keep") == (IMAP_SECRET, None)
    assert mail(admin).mailboxes.get(WS, "keep")["outbound"]["password_set"] is False
    # no SMTP host: replies are not sent from it, and its settings go
    form |= {"smtp_host": "", "smtp_port": "", "smtp_username": ""}
    assert admin.post(f"{PAGE}/keep", form).status_code == 303
    assert mail(admin).mailboxes.get(WS, "keep")["outbound"] is None


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"address": "not an address"}, "address", "An email address without a +tag."),
        ({"address": "help+1@acme.example"}, "address", "An email address without a +tag."),
        ({"imap_host": ""}, "imap_host", "A host name."),
        ({"imap_port": "nine"}, "imap_port", "A port, 1-65535."),
        ({"smtp_port": "70000"}, "smtp_port", "A port, 1-65535."),
        ({"imap_username": ""}, "imap_username", "The IMAP user name."),
        ({"smtp_tls": "tls13"}, "smtp_tls", "One of ssl, starttls, none."),
        ({"inbound_kind": "pop3"}, "inbound_kind", "One of imap, smtp, api."),
        ({"id": "Bad Id"}, "id", None),
    ],
    ids=["address", "plus-tag", "host", "port", "port-range", "username", "tls", "kind", "id"],
)
def test_bad_input_is_shown_beside_its_field_and_nothing_is_lost_but_passwords(
    admin: Console, over: dict[str, str], field: str, message: str | None
) -> None:
    before = mail(admin).mailboxes.list(WS)
    values = fields("bad", name="Typed <name> & kept", **over)
    r = admin.post(PAGE, values)
    assert r.status_code == 422
    err = re.search(rf'<p class="field-error" id="err-{field}" role="alert">([^<]+)</p>', r.text)
    assert err, field
    if message:
        assert err.group(1) == message
    assert "Nothing was saved" in r.text and "type the passwords again" in r.text
    assert 'value="Typed &lt;name&gt; &amp; kept"' in r.text  # what was typed is kept …
    assert IMAP_SECRET not in r.text and SMTP_SECRET not in r.text  # … but passwords never come back
    assert r.text.count("Type it again: a password is never sent back to your browser.") == 2
    assert mail(admin).mailboxes.list(WS) == before


def test_an_id_in_use_is_refused(admin: Console) -> None:
    assert admin.post(PAGE, fields("taken")).status_code == 303
    r = admin.post(PAGE, fields("taken", address="other@acme.example"))
    assert r.status_code == 422 and "A mailbox &#39;taken&#39; exists already" in r.text
    assert mail(admin).mailboxes.get(WS, "taken")["address"] == "taken@acme.example"


def test_an_edit_with_bad_input_keeps_the_form_and_writes_nothing(admin: Console) -> None:
    assert admin.post(PAGE, fields("edited")).status_code == 303
    version = mail(admin).mailboxes.get(WS, "edited")["version"]
    form = fields("edited", imap_port="0", imap_folder="Typed folder")
    del form["id"]
    r = admin.post(f"{PAGE}/edited", form)
    assert r.status_code == 422 and 'id="err-imap_port"' in r.text and 'value="Typed folder"' in r.text
    assert mail(admin).mailboxes.get(WS, "edited")["version"] == version
    assert admin.post(f"{PAGE}/nope", form).status_code == 404  # an edit never creates


def test_delete_needs_the_id_typed(admin: Console) -> None:
    assert admin.post(PAGE, fields("gone")).status_code == 303
    r = admin.post(f"{PAGE}/gone/delete", {"confirm": "gon"})
    assert r.status_code == 422 and "Not deleted: confirm by typing the mailbox&#39;s id (gone)." in r.text
    r = admin.post(f"{PAGE}/gone/delete", {"confirm": "gone"})
    assert (r.status_code, r.headers["location"]) == (303, f"{PAGE}?deleted=gone")
    assert 'id="mailbox-gone"' not in admin.get(PAGE).text
    assert admin.post(f"{PAGE}/gone/delete", {"confirm": "gone"}).status_code == 404


def test_the_outbound_queue_is_counted_per_mailbox(admin: Console) -> None:
    assert admin.post(PAGE, fields("busy")).status_code == 303
    now = START
    rows: list[dict[str, Any]] = []
    for i, (status, age) in enumerate(
        [("queued", 0), ("queued", 0), ("failed", 1), ("failed", mb.FAILED_DAYS + 1), ("sent", 0)]
    ):
        at = now - timedelta(days=age)
        rows.append(
            {
                "id": f"busy-{i}",
                "workspace_id": WS,
                "mailbox_id": "busy",
                "ticket_id": "t",
                "response_id": f"r{i}",
                "message_id": f"m{i}@acme.example",
                "envelope": {"from": "busy@acme.example", "to": ["ada@example.com"]},
                "message": "",
                "status": status,
                "attempts": 1,
                "next_attempt_at": None,
                "answer": None,
                "created_at": at,
                "updated_at": at,
            }
        )
    with admin.core.db.tx() as tx:
        tx.conn.execute(insert(mail_outbox), rows)
    shown = text(card(admin.get(PAGE).text, "busy"))
    assert f"Outbound queue 2 waiting to be sent · ✗ 1 failed in the last {mb.FAILED_DAYS} days" in shown
    assert "Outbound queue 0 waiting to be sent · none failed" in text(card(admin.get(PAGE).text, "help"))


def test_no_csrf_no_change(admin: Console) -> None:
    assert admin.post(PAGE, fields("forged"), csrf=False).status_code == 403
    with pytest.raises(Exception, match="not found"):
        mail(admin).mailboxes.get(WS, "forged")


@pytest.mark.parametrize(
    "grants",
    [
        [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "write:records"]}],
        [
            {"scope": {"workspaces": [WS]}, "permissions": ["read:records"]},
            {"scope": {"workspaces": [WS], "collections": ["tickets"]}, "permissions": ["admin"]},
        ],
    ],
    ids=["agent", "admin-of-some-collections"],
)
def test_others_see_no_link_and_get_the_403_page(server: Console, grants: list[dict[str, Any]]) -> None:
    c = server
    c.client.cookies.clear()
    assert c.sign_in().status_code == 303
    if not any(m["id"] == "private" for m in mail(c).mailboxes.list(WS)):
        assert c.post(PAGE, fields("private")).status_code == 303
    before = mail(c).mailboxes.list(WS)
    raw, _ = c.core.tokens.create("agent", grants)
    c.client.cookies.clear()
    assert c.sign_in(raw).status_code == 303
    assert PAGE not in c.get(f"/w/{WS}/queue").text and "Mailboxes of" not in c.get("/settings").text
    for path in (PAGE, f"{PAGE}/private"):
        r = c.get(path)
        assert r.status_code == 403 and "Not allowed" in r.text and "imap.acme.example" not in r.text, path
    for path, data in (
        (PAGE, fields("evil")),
        (f"{PAGE}/private", fields("private", imap_host="evil.example")),
        (f"{PAGE}/private/delete", {"confirm": "private"}),
        (f"{PAGE}/private/test", {}),
    ):
        assert c.post(path, data).status_code == 403, path
    assert mail(c).mailboxes.list(WS) == before


def test_the_connection_test_reports_what_the_smtp_server_answered(admin: Console) -> None:
    """Against a real SMTP server (aiosmtpd), then against none: the page shows each answer by the mailbox."""
    from aiosmtpd.controller import Controller

    port = free_port()
    smtp = Controller(object(), hostname="127.0.0.1", port=port)
    smtp.start()
    form = fields("probe", smtp_host="127.0.0.1", smtp_port=str(port), smtp_tls="none", smtp_username="")
    form["smtp_password"] = ""
    try:
        assert admin.post(PAGE, form).status_code == 303
        r = admin.post(f"{PAGE}/probe/test", {})
        assert r.status_code == 200
        assert "Sending (SMTP): works" in text(card(r.text, "probe"))
    finally:
        smtp.stop()
    r = admin.post(f"{PAGE}/probe/test", {"from": "edit"})
    assert r.status_code == 200 and "Sending (SMTP): failed" in text(r.text)
