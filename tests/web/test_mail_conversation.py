"""An email conversation on the ticket page: each message's envelope (From, To, Cc folded when long, Date),
its attachments and the original .eml, the quoted history behind a disclosure, the formatted view in a
sandboxed frame of its own (inline images rewritten, remote images only when asked, sanitised on the way
out), delivery chips of outbound replies; the description as the customer's opening message; and the
composer saying who a reply is emailed to."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from deskbase.config import Settings
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.server import build
from tests.conftest import START
from tests.web.conftest import WS, Console, csrf_of, seed_workspace
from tests.web.mail_thread import ANSWERS, CC, NEW_TEXT, Thread, email_thread

READER = ["read:records", "read:relationships", "read:files"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Console, Thread]]:
    data = tmp_path_factory.mktemp("mail-conversation")
    core, app = build(
        Settings(reply_hold_seconds=0, data_dir=str(data), replicate=False, sla_scheduler=False),
        FixedClock(START),
    )
    raw, _ = core.tokens.ensure_admin_token(data)
    seed = seed_workspace(core)
    thread = email_thread(core)
    with TestClient(app) as client:
        assert app.state.console.warmed()
        c = Console(client, core, raw, seed)
        assert c.sign_in().status_code == 303
        yield c, thread


@pytest.fixture
def c(setup: tuple[Console, Thread]) -> Iterator[Console]:
    console, _ = setup
    yield console
    console.client.cookies.clear()  # a test that signed in as someone else leaves as the admin
    assert console.sign_in().status_code == 303


@pytest.fixture
def thread(setup: tuple[Console, Thread]) -> Thread:
    return setup[1]


def page_of(c: Console, ticket: str) -> str:
    r = c.get(f"/w/{WS}/tickets/{ticket}")
    assert r.status_code == 200, r.text
    return str(r.text)


def message_html(page: str, rid: str) -> str:
    m = re.search(rf'<li class="msg [^"]*" id="m-{re.escape(rid)}">(.*?)\n    </li>', page, re.S)
    assert m, f"message {rid} not on the page"
    return m.group(1)


def sign_in_as(c: Console, permissions: list[str]) -> None:
    raw, _ = c.core.tokens.create("limited", [{"scope": {"workspaces": [WS]}, "permissions": permissions}])
    c.client.cookies.clear()
    assert c.sign_in(raw).status_code == 303


def test_an_inbound_email_shows_its_envelope_attachments_quote_and_original(
    c: Console, thread: Thread
) -> None:
    page = page_of(c, thread.ticket)
    msg = message_html(page, thread.inbound)
    assert '<strong class="msg-author">Ada Lovelace &lt;ada@example.com&gt;</strong>' in msg
    assert "<dt>To</dt><dd>support@acme.example</dd>" in msg
    # Cc: the first three, the rest behind "and 2 more"
    assert f"<dt>Cc</dt><dd>{', '.join(CC[:3])}" in msg
    assert f"<summary>and 2 more</summary>{', '.join(CC[3:])}</details>" in msg
    assert "<dt>Subject</dt><dd>Export crashes</dd>" in msg and "Mon 02 Mar 2026, 09:00 UTC" in msg
    # the new text in the body, the quoted history behind its disclosure
    body = re.search(r'<div class="msg-body">(.*?)</div>', msg, re.S)
    assert body and html.unescape(body.group(1)) == NEW_TEXT
    quoted = re.search(r"<summary>Show quoted text</summary><div [^>]*>(.*?)</div>", msg, re.S)
    assert quoted and "&gt; Did the export work?" in quoted.group(1)
    # the files: the inline image as a thumbnail, the log as a download, the original as an .eml download
    thumb = re.search(rf'<img src="(/w/{WS}/files/[^"]+/content)" alt="shot.png"', msg)
    log = re.search(rf'<a href="(/w/{WS}/files/[^"]+/content)" download title="crash.log', msg)
    original = re.search(r'<a class="original" href="([^"]+)" download>View original \(.eml\)</a>', msg)
    assert thumb and log and original
    assert c.get(log.group(1)).text == "Traceback: export.py line 12\n"
    eml = c.get(original.group(1))
    assert eml.headers["content-type"] == "message/rfc822"
    assert eml.headers["content-disposition"].startswith("attachment")
    assert f"Message-ID: <{thread.message_id}>".encode() in eml.content
    assert c.get(thumb.group(1)).content.startswith(b"\x89PNG")


def test_the_formatted_view_is_a_sandboxed_frame_with_its_own_policy(c: Console, thread: Thread) -> None:
    msg = message_html(page_of(c, thread.ticket), thread.inbound)
    frame = re.search(
        r'<iframe class="mail-frame" name="([^"]+)" src="([^"]+)" title="([^"]+)"\s+sandbox="([^"]+)"', msg
    )
    assert frame, msg
    name, src, title, sandbox = frame.groups()
    assert src == f"/w/{WS}/messages/{thread.inbound}/html" and title.startswith("Formatted email from Ada")
    assert "allow-scripts" not in sandbox and "allow-same-origin" in sandbox
    assert "1 remote image not loaded" in msg
    load = re.search(rf'<a class="button" href="([^"]+)" target="{name}" data-remote-images>', msg)
    assert load and load.group(1) == src + "?remote=1"
    r = c.get(src)
    assert r.status_code == 200 and r.headers["x-frame-options"] == "SAMEORIGIN"
    csp = r.headers["content-security-policy"]
    assert "img-src 'self';" in csp and "script-src" not in csp and "default-src 'none'" in csp
    assert (
        "frame-ancestors 'self'" in csp and "sandbox" in csp and r.headers["referrer-policy"] == "no-referrer"
    )
    # the inline image points at the file route; the remote one has no source; no script survives
    inline = re.search(r'<img src="([^"]*)" alt="the error dialog"', r.text)
    assert inline and re.fullmatch(rf"/w/{WS}/files/[^/]+/content", inline.group(1))
    assert 'alt="a logo on another server"' in r.text and "images.example.net" not in r.text
    assert "<script" not in r.text and "<b>export</b>" in r.text


def test_remote_images_load_only_when_asked_from_the_original(c: Console, thread: Thread) -> None:
    r = c.get(f"/w/{WS}/messages/{thread.inbound}/html?remote=1")
    assert r.status_code == 200
    assert '<img src="https://images.example.net/logo.png"' in r.text and "<script" not in r.text
    assert "img-src 'self' https: http:;" in r.headers["content-security-policy"]
    assert re.search(rf'<img src="/w/{WS}/files/[^/]+/content" alt="the error dialog"', r.text)
    other = c.get(f"/w/{WS}/messages/{thread.inbound}/html?remote=yes")  # only "1" asks for them
    assert other.status_code == 200 and "images.example.net" not in other.text


def test_html_written_by_any_client_is_sanitised_on_the_way_out(c: Console, thread: Thread) -> None:
    """`mail.html` is a record field: an API client may store anything there; the frame never shows it raw."""
    hostile = '<p onclick="x()">hi</p><script>alert(1)</script><iframe src="https://evil.example"></iframe>'
    rec = c.core.records.create(
        WS, "responses", {"data": {"body": "x", "type": "reply", "mail": {"html": hostile}}}, SYSTEM
    )[0]
    r = c.get(f"/w/{WS}/messages/{rec['id']}/html")
    assert r.status_code == 200 and "<p>hi</p>" in r.text
    assert "onclick" not in r.text and "<script" not in r.text and "evil.example" not in r.text
    assert c.get(f"/w/{WS}/messages/{thread.replies['sent']}/html").status_code == 404  # a text-only reply


def test_who_may_see_the_formatted_view_and_the_original(c: Console, thread: Thread) -> None:
    src = f"/w/{WS}/messages/{thread.inbound}/html"
    sign_in_as(c, ["read:records", "read:relationships"])  # no read:files
    msg = message_html(page_of(c, thread.ticket), thread.inbound)
    assert "View original" not in msg and "data-remote-images" not in msg
    assert "2 attachments your token may not read" in msg
    r = c.get(src)
    assert r.status_code == 200 and 'src=""' in r.text and "/files/" not in r.text  # no image it may not read
    assert c.get(src + "?remote=1").status_code == 403
    grants = [{"scope": {"workspaces": [WS], "collections": ["tickets"]}, "permissions": ["read:records"]}]
    raw, _ = c.core.tokens.create("tickets-only", grants)
    c.client.cookies.clear()
    assert c.sign_in(raw).status_code == 303
    assert c.get(src).status_code == 404  # tickets only: responses are out of reach, as in the API


@pytest.mark.parametrize("state", list(ANSWERS))
def test_an_outbound_reply_shows_its_delivery_state(c: Console, thread: Thread, state: str) -> None:
    msg = message_html(page_of(c, thread.ticket), thread.replies[state])
    label = state.capitalize()
    chip = re.search(rf'<summary class="dchip dchip-{state}" title="([^"]*)">(.*?)</summary>', msg, re.S)
    assert chip and chip.group(2).endswith(f'<span class="sr-only">Email </span>{label}')
    answer = ANSWERS[state]
    if answer:
        assert html.unescape(chip.group(1)) == answer
        assert f"Mail server's answer: <code>{html.escape(answer)}</code> · 2 attempts" in msg
    else:
        assert "Waiting to be sent." in msg
    assert "<dt>From</dt><dd>Acme Support &lt;support@acme.example&gt;</dd>" in msg
    assert "<dt>To</dt><dd>ada@example.com</dd>" in msg and "and 2 more" in msg
    assert '<strong class="msg-author">agent@acme.example</strong>' in msg


def test_the_description_is_the_customers_opening_message(c: Console) -> None:
    page = page_of(c, c.seed.tickets["export"])
    kinds = re.findall(r'<li class="msg (msg-\w+)( msg-opening)?', page)
    assert kinds[:2] == [("msg-customer", " msg-opening"), ("msg-customer", "")]
    first = re.search(r'<li class="msg msg-customer msg-opening" id="m-[^"]+">(.*?)</li>', page, re.S)
    assert first and "Customer · opened the ticket" in first.group(1)
    assert "Ana Garcia &lt;ana@globex.example&gt;" in first.group(1)
    assert '<div class="msg-body">The export times out.</div>' in first.group(1)
    assert 'name="description"' not in page  # no free text box to rewrite it
    # the collision check counts responses only: the opening message is no response
    conv = [m for m in re.findall(r'id="m-([^"]+)"', page) if not m.startswith("opening-")]
    assert f'name="seen" value="{conv[-1]}"' in page
    # the edit form takes no description (the API still does)
    before = c.core.records.get(WS, "tickets", c.seed.tickets["export"])
    r = c.post(
        c.ticket_url("export", "/edit"),
        {"panel": "head", "subject": before["data"]["subject"], "description": "changed"},
    )
    assert r.status_code == 303
    assert (
        c.core.records.get(WS, "tickets", c.seed.tickets["export"])["data"]["description"]
        == "The export times out."
    )


def test_a_ticket_created_by_email_opens_with_the_customers_email(c: Console, thread: Thread) -> None:
    page = page_of(c, thread.ticket)
    assert "msg-opening" not in page
    first = re.search(r'<li class="msg ([^"]+)" id="m-([^"]+)">', page)
    assert first and first.groups() == ("msg-customer msg-mail", thread.inbound)


def test_the_composer_says_who_a_reply_is_emailed_to(c: Console, thread: Thread) -> None:
    notice = re.search(
        r'<p class="email-notice small" id="email-notice">(.*?)</p>', page_of(c, thread.ticket), re.S
    )
    assert notice
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", notice.group(1))).split())
    assert (
        text
        == f"A reply is emailed to Ada Lovelace <ada@example.com> (cc {', '.join(CC)}). An internal note never is."
    )
    assert "email-notice" not in page_of(c, c.seed.tickets["login"])  # a chat ticket
    grants = [
        {
            "scope": {"workspaces": [WS], "collections": ["tickets", "responses"]},
            "permissions": [*READER, "write:records", "write:relationships"],
        }
    ]
    raw, _ = c.core.tokens.create("no-customers", grants)
    c.client.cookies.clear()
    assert c.sign_in(raw).status_code == 303
    page = page_of(c, thread.ticket)
    assert (
        "A reply is emailed to the customer (cc bob@example.com" in page
        and "ada@example.com" not in page.split('id="email-notice"')[1][:400]
    )


def test_a_reply_with_a_file_on_an_email_ticket_shows_it(c: Console, thread: Thread) -> None:
    page = page_of(c, thread.ticket)
    r = c.client.post(
        f"/w/{WS}/tickets/{thread.ticket}/reply",
        data={
            "body": "Here is the fixed export.",
            "type": "reply",
            "csrf": csrf_of(page),
            "seen": thread.replies["bounced"],
        },
        files={"files": ("export.csv", b"a,b\n1,2\n", "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = page_of(c, thread.ticket)
    assert "Here is the fixed export." in page and 'download title="export.csv (text/csv)"' in page
