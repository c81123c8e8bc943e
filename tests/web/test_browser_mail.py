"""The email channel in a real browser (Debian's chromium through Playwright, axe-core on every page) against a
live server: an email conversation (envelope, quoted text, the formatted view's sandboxed frame with its
inline image, remote images loaded on request from a real HTTP server without a referrer, delivery chips,
the composer's "emailed to" line) and Settings → Mailboxes (add with a mistake fixed inline, edit keeping the
password, delete), at desk and phone widths, with no console errors."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from deskbase.config import Settings
from deskbase.mail.service import Mail
from deskbase.server import build
from tests.web import axe
from tests.web.browser import DESK, PHONE, Tab
from tests.web.conftest import CHROMIUM, WS, Live, seed_workspace, serving
from tests.web.mail_thread import CC, Thread, email_thread, png

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)",
    ),
    pytest.mark.skipif(not axe.AXE.exists(), reason=axe.MISSING),
]
LOGO = png(3, 3)


@dataclass
class Remote:
    """A server of "remote" images (another origin): what it was asked for, with the request headers."""

    url: str
    requests: list[dict[str, str]]


@pytest.fixture(scope="module")
def remote() -> Iterator[Remote]:
    requests: list[dict[str, str]] = []

    class Images(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(LOGO)))
            self.end_headers()
            self.wfile.write(LOGO)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Images)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Remote(f"http://127.0.0.1:{server.server_address[1]}", requests)
    server.shutdown()
    thread.join(timeout=5)


@dataclass
class MailLive(Live):
    thread: Thread


@pytest.fixture(scope="module")
def mail_live(tmp_path_factory: pytest.TempPathFactory, remote: Remote) -> Iterator[MailLive]:
    data = tmp_path_factory.mktemp("console-mail-live")
    core, app = build(Settings(reply_hold_seconds=0, data_dir=str(data), replicate=False, webhooks=False))
    raw, _ = core.tokens.ensure_admin_token(data)
    seed_workspace(core)
    thread = email_thread(core, remote_image=f"{remote.url}/logo.png")
    with serving(app) as url:
        yield MailLive(url, core, raw, app, thread)


@pytest.fixture
def desk(browser: Any, mail_live: MailLive) -> Iterator[Tab]:
    tab = Tab(browser, mail_live, DESK)
    tab.sign_in()
    yield tab
    tab.close()


@pytest.fixture
def phone(browser: Any, mail_live: MailLive) -> Iterator[Tab]:
    tab = Tab(browser, mail_live, PHONE)
    tab.sign_in()
    yield tab
    tab.close()


def fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"])


@pytest.mark.parametrize("width", ["desk", "phone"])
def test_an_email_conversation(request: pytest.FixtureRequest, width: str, remote: Remote) -> None:
    from playwright.sync_api import expect

    tab: Tab = request.getfixturevalue(width)
    live: MailLive = request.getfixturevalue("mail_live")
    page, t = tab.page, live.thread
    page.goto(f"{live.url}/w/{WS}/tickets/{t.ticket}")
    inbound = page.locator(f"#m-{t.inbound}")
    expect(inbound.locator(".msg-author")).to_have_text("Ada Lovelace <ada@example.com>")
    assert axe.violations(page) == []
    # Cc: the rest behind "and 2 more"; the quoted history behind its disclosure
    inbound.locator(".env-more summary").click()
    expect(inbound.locator(".env-more")).to_contain_text(CC[-1])
    quoted = inbound.locator(".quoted-text")
    expect(quoted).to_be_hidden()
    inbound.locator("summary", has_text="Show quoted text").click()
    expect(quoted).to_contain_text("> Did the export work?")
    # the formatted view: a sandboxed frame; its inline image shows, the remote one is not fetched
    inbound.locator("summary", has_text="Formatted view").click()
    frame = page.frame_locator(f"iframe[name='mframe-{t.inbound}']")
    shot = frame.locator("img[alt='the error dialog']")
    expect(shot).to_have_js_property("naturalWidth", 3)
    assert frame.locator("b", has_text="export").count() == 1
    assert frame.locator("img[alt='a logo on another server']").get_attribute("src") in (None, "")
    seen = len(remote.requests)
    handle = page.locator(f"iframe[name='mframe-{t.inbound}']").element_handle()
    page.wait_for_function("f => parseInt(f.style.height) > 40", arg=handle)  # sized to its content
    # remote images, on request: from the other server, without telling it where they are shown
    inbound.locator("[data-remote-images]").click()
    expect(frame.locator("img[alt='a logo on another server']")).to_have_js_property("naturalWidth", 3)
    expect(inbound.locator("[data-remote-note]")).to_have_text("Remote images are shown in this email.")
    fetched = remote.requests[seen:]
    assert [r["path"] for r in fetched] == ["/logo.png"] and "referer" not in fetched[0]
    # delivery states: a chip each, the bounce's answer behind it
    for state, label in (
        ("queued", "Queued"),
        ("sent", "Sent"),
        ("failed", "Failed"),
        ("bounced", "Bounced"),
    ):
        expect(page.locator(f"#m-{t.replies[state]} .dchip")).to_have_text(re.compile(rf"{label}$"))
    bounced = page.locator(f"#m-{t.replies['bounced']}")
    bounced.locator(".dchip").click()
    expect(bounced.locator(".delivery-detail")).to_contain_text("550 5.1.1 <ada@example.com>: user unknown")
    # the composer says who a reply goes to, and not for a note
    notice = page.locator("#email-notice")
    expect(notice).to_contain_text("A reply is emailed to Ada Lovelace <ada@example.com> (cc bob@example.com")
    page.check("#type-note")
    expect(notice).to_be_hidden()
    page.check("#type-reply")
    expect(notice).to_be_visible()
    assert axe.violations(page) == []
    assert fits(page)
    tab.shot("ticket-email", full=True)


def test_a_reply_with_a_file_on_an_email_ticket(desk: Tab) -> None:
    from playwright.sync_api import expect

    live: MailLive = desk.live  # type: ignore[assignment]
    page = desk.page
    page.goto(f"{live.url}/w/{WS}/tickets/{live.thread.ticket}")
    page.set_input_files(
        "#composer-files", [{"name": "fix.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,2\n"}]
    )
    page.fill("#composer-body", "The fixed export is attached.")
    page.click("#send")
    page.locator("#composer .sent", has_text="Reply sent.").wait_for()
    sent = page.locator(".msg", has_text="The fixed export is attached.")
    expect(sent.locator("a[download]", has_text="fix.csv")).to_have_count(1)


@pytest.mark.parametrize("width", ["desk", "phone"])
def test_mailbox_settings_add_fix_edit_delete(request: pytest.FixtureRequest, width: str) -> None:
    from playwright.sync_api import expect

    tab: Tab = request.getfixturevalue(width)
    page, mid = tab.page, f"help-{width}"
    mail = tab.live.core.extensions[Mail]
    page.click("nav.sections >> text=Mailboxes")
    page.wait_for_url(re.compile(r".*/settings/mailboxes$"))
    assert axe.violations(page) == []
    expect(page.locator("#mb-imap_host")).to_be_hidden()  # IMAP settings only for IMAP
    page.fill("#mb-id", mid)
    page.fill("#mb-address", f"{mid}@acme.example")
    page.fill("#mb-name", "Acme Help")
    page.check("#mb-kind-imap")
    expect(page.locator("#mb-imap_host")).to_be_visible()
    page.fill("#mb-imap_host", "imap.acme.example")
    page.fill("#mb-imap_port", "99999")
    page.fill("#mb-imap_username", "help")
    page.fill("#mb-imap_password", "imap-secret")
    page.fill("#mb-smtp_host", "smtp.acme.example")
    page.fill("#mb-smtp_password", "smtp-secret")
    page.click("form.mailbox-form button[type=submit]")
    # refused: the port is marked, everything typed is kept but the passwords
    expect(page.locator("#err-imap_port")).to_have_text("A port, 1-65535.")
    expect(page.locator("#mb-imap_host")).to_have_value("imap.acme.example")
    expect(page.locator("#mb-imap_password")).to_have_value("")
    expect(page.locator("#note-imap_password")).to_contain_text("Type it again")
    assert axe.violations(page) == []
    tab.shot("mailbox-refused", full=True)
    page.fill("#mb-imap_port", "")
    page.fill("#mb-imap_password", "imap-secret")
    page.fill("#mb-smtp_password", "smtp-secret")
    page.click("form.mailbox-form button[type=submit]")
    page.wait_for_url(re.compile(rf".*\?created={mid}$"))
    card = page.locator(f"#mailbox-{mid}")
    expect(card).to_contain_text("IMAP imap.acme.example:993 (SSL/TLS), folder INBOX")
    assert axe.violations(page) == []
    assert fits(page)
    tab.shot("mailboxes", full=True)
    # edit: a blank password keeps the stored one
    card.locator("a.button", has_text="Edit").click()
    page.wait_for_url(re.compile(rf".*/settings/mailboxes/{mid}$"))
    expect(page.locator("#note-imap_password")).to_have_text(
        "A password is stored: leave this blank to keep it."
    )
    page.fill("#mb-imap_folder", "Support")
    page.click("form.mailbox-form button[type=submit]")
    page.wait_for_url(re.compile(rf".*\?saved={mid}$"))
    row = mail.mailboxes.row(WS, mid)
    assert (
        row.inbound["folder"] == "Support" and mail.mailboxes.password(row.inbound_password) == "imap-secret"
    )
    assert mail.mailboxes.password(row.outbound_password) == "smtp-secret"
    # delete, confirmed by typing the id
    page.goto(f"{tab.live.url}/w/{WS}/settings/mailboxes/{mid}")
    assert axe.violations(page) == []
    assert fits(page)
    tab.shot("mailbox", full=True)
    page.click(f"#mailbox-{mid} summary:has-text('Delete')")
    page.fill(f"#confirm-mailbox-{mid}", mid)
    page.click(f"#mailbox-{mid} button.danger")
    page.wait_for_url(re.compile(rf".*\?deleted={mid}$"))
    expect(page.locator(f"#mailbox-{mid}")).to_have_count(0)


def test_an_agent_has_no_way_to_the_mailboxes(browser: Any, mail_live: MailLive) -> None:
    grants = [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "write:records"]}]
    raw, _ = mail_live.core.tokens.create("agent-bea", grants)
    tab = Tab(browser, mail_live, DESK)
    try:
        tab.sign_in(raw)
        assert tab.page.locator("nav.sections >> text=Mailboxes").count() == 0
        tab.page.goto(f"{mail_live.url}/settings")
        assert tab.page.locator("text=Mailboxes of").count() == 0
    finally:
        tab.close()
