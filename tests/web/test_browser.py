"""The console in a real browser (Debian's chromium through Playwright) against a live server: the agent's
journey from sign-in to dashboard, by keyboard where an agent would use it, at desk and phone widths, with no
console errors. Screenshots land in test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.browser import DESK, PHONE, Tab
from tests.web.conftest import CHROMIUM, WS, Live, needs_sla

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)",
    ),
]


@pytest.fixture
def desk(browser: Any, live_server: Live) -> Iterator[Tab]:
    tab = Tab(browser, live_server, DESK)
    tab.sign_in()
    yield tab
    tab.close()


@pytest.fixture
def phone(browser: Any, live_server: Live) -> Iterator[Tab]:
    tab = Tab(browser, live_server, PHONE)
    tab.sign_in()
    yield tab
    tab.close()


def blur(page: Any) -> None:
    """Leave whatever field has the focus, as an agent does (Esc) before using single-key shortcuts."""
    page.evaluate("document.activeElement && document.activeElement.blur()")


def lead_dashboard(page: Any) -> None:
    """The lead panels drew: the live strip's numbers, the created vs solved chart with its table, the
    first-response histogram, the attainment matrix and the weekday-by-hour heatmap."""
    page.locator("#live-strip .strip-value a").first.wait_for()
    page.locator("#panel-created_vs_solved svg.trend-chart").wait_for()
    assert page.locator("#panel-created_vs_solved table.numbers tbody tr").count() == 30
    page.locator("#panel-first_response .bar-value").first.wait_for()
    page.locator("#panel-attainment_by_plan table.matrix").wait_for()
    page.locator("#panel-weekday_hour table.heatmap").wait_for()


def first_ticket(tab: Tab, query: str) -> None:
    """Open the first ticket of a queue with the keyboard: j selects, o opens."""
    page = tab.page
    page.goto(f"{tab.live.url}/w/{WS}/queue?{query}")
    blur(page)
    page.keyboard.press("j")
    assert page.locator("tr.row.selected").count() == 1
    page.keyboard.press("o")
    page.wait_for_url(re.compile(r".*/tickets/[^/]+$"))


def test_agent_journey_at_desk_width(desk: Tab) -> None:
    page = desk.page
    desk.shot("queue-mine")
    # filter the queue: all open, one priority only (the demo is generated back from now, so which priorities
    # are open depends on the day: take the first row's)
    page.click("nav.views >> text=All open")
    page.wait_for_url(re.compile(r".*view=open.*"))
    wanted = page.locator("tr.row .prio").first.inner_text()
    page.select_option("#filter-priority", wanted.lower())
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(rf".*priority={wanted.lower()}.*"))
    priorities = page.locator("tr.row .prio").all_inner_texts()
    assert priorities and set(priorities) == {wanted}
    desk.shot("queue-filtered")
    # open a ticket by keyboard
    blur(page)
    page.keyboard.press("j")
    page.keyboard.press("o")
    page.wait_for_url(re.compile(r".*/tickets/[^/]+$"))
    ticket_url = page.url
    desk.shot("ticket")
    # reply: r focuses the composer as a reply, Ctrl+Enter sends
    blur(page)
    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "composer-body"
    page.keyboard.type("Thanks, we are on it.")
    page.keyboard.press("Control+Enter")
    page.locator("#composer .sent", has_text="Reply sent.").wait_for()
    assert page.locator(".msg-agent .msg-body", has_text="Thanks, we are on it.").count() == 1
    # an internal note: n switches the composer to a note
    blur(page)
    page.keyboard.press("n")
    assert page.is_checked("#type-note")
    page.keyboard.type("Customer is on the old client.")
    page.click("#send")
    page.locator("#composer .sent", has_text="Note added.").wait_for()
    note = page.locator(".msg-note", has_text="Customer is on the old client.")
    assert note.count() == 1 and "Internal note" in (note.text_content() or "")
    # status: s focuses it; choosing saves in place
    blur(page)
    page.keyboard.press("s")
    assert page.evaluate("document.activeElement.id") == "f-status"
    page.select_option("#f-status", "waiting")
    page.locator("#ticket-meta .status", has_text="Waiting").wait_for()
    # link a related ticket through the search box
    page.fill("#related-q", "invite")
    page.locator("#related-matches button.match").first.wait_for()
    page.locator("#related-matches button.match").first.click()
    page.locator(".related-list a").first.wait_for()
    assert page.locator(".related-list li form").count() >= 1
    desk.shot("ticket-after", full=True)
    # the dashboard: g then d; every report draws bars or its matrix with the numbers beside them
    blur(page)
    page.keyboard.press("g")
    page.keyboard.press("d")
    page.wait_for_url(re.compile(r".*/dashboard$"))
    for name in ("open_tickets_by_priority", "agent_workload", "tickets_by_customer_plan"):
        page.locator(f"#report-{name} .bar-value").first.wait_for()
    page.locator("#report-tickets_by_category_and_channel table.matrix").wait_for()
    lead_dashboard(page)
    desk.shot("dashboard", full=True)
    # the first-response panel switches to calendar time in place
    page.click("#panel-first_response .toggle a:not([aria-current])")
    page.locator('#panel-first_response .toggle a[aria-current="true"]', has_text="Calendar").wait_for()
    # Esc on a ticket goes back to the queue it came from
    page.goto(ticket_url)
    blur(page)
    page.keyboard.press("Escape")
    page.wait_for_url(re.compile(r".*/queue.*"))


def test_status_waiting_pauses_the_sla_clock(desk: Tab) -> None:
    needs_sla(desk.live.core)
    page = desk.page
    first_ticket(desk, "view=open&status=open&sort=updated")
    chips = page.locator("#sla-panel .chip")
    if chips.count() == 0:
        pytest.skip("no SLA clock applies to this demo ticket")
    page.select_option("#f-status", "waiting")
    page.locator("#sla-panel .chip-paused").first.wait_for()
    assert "paused" in page.locator("#sla-panel").inner_text()
    assert page.locator("#sla-panel .chip-running, #sla-panel .chip-soon").count() == 0
    desk.shot("ticket-paused")
    page.select_option("#f-status", "open")
    from playwright.sync_api import expect

    expect(page.locator("#sla-panel .chip-paused")).to_have_count(0)


def test_bad_input_is_shown_inline_in_the_browser(desk: Tab) -> None:
    page = desk.page
    first_ticket(desk, "view=all&sort=created")
    ticket_id = page.url.rsplit("/", 1)[1]
    before = desk.live.core.records.get(WS, "tickets", ticket_id)["version"]
    page.fill("#f-subject", "")
    page.keyboard.press("Tab")
    page.locator("#err-subject", has_text="Subject can't be empty.").wait_for()
    page.click("#send")  # an empty reply
    page.locator("#composer-error", has_text="Write a message first.").wait_for()
    assert desk.live.core.records.get(WS, "tickets", ticket_id)["version"] == before


def test_phone_width(phone: Tab) -> None:
    page, url = phone.page, phone.live.url
    page.goto(f"{url}/w/{WS}/queue?view=open")
    phone.shot("queue")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.locator("tr.row a").first.click()
    page.wait_for_url(re.compile(r".*/tickets/[^/]+$"))
    phone.shot("ticket", full=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.goto(f"{url}/w/{WS}/dashboard")
    page.locator("#report-agent_workload .bar-value").first.wait_for()
    lead_dashboard(page)
    phone.shot("dashboard", full=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.goto(f"{url}/w/{WS}/collections")
    phone.shot("collections")


def test_shortcut_overlay_palette_and_the_off_switch(desk: Tab) -> None:
    page, url = desk.page, desk.live.url
    blur(page)
    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#shortcuts").is_visible()
    page.keyboard.press("Control+k")
    page.keyboard.type("dashboard")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/dashboard$"))
    # single keys never fire inside a field
    page.goto(f"{url}/w/{WS}/queue?view=all")
    page.click("#queue-search")
    page.keyboard.type("jk")
    assert page.locator("tr.row.selected").count() == 0
    # turned off, single keys do nothing (Ctrl+K still works)
    page.goto(f"{url}/settings")
    page.uncheck("#shortcuts")
    page.click("form button.primary")
    page.goto(f"{url}/w/{WS}/queue?view=all")
    blur(page)
    page.keyboard.press("j")
    assert page.locator("tr.row.selected").count() == 0
    page.goto(f"{url}/settings")
    page.check("#shortcuts")
    page.click("form button.primary")


def test_a_colleague_sees_who_is_viewing_and_replying(desk: Tab, browser: Any, live_server: Live) -> None:
    """Two agents on one ticket: each sees the other; typing in the composer turns "viewing" into "replying"."""
    from playwright.sync_api import expect

    grants = [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "read:relationships"]}]
    raw, _ = live_server.core.tokens.create("bea", grants)
    other = Tab(browser, live_server, DESK)
    other.sign_in(raw)
    try:
        with desk.page.expect_response(lambda r: r.url.endswith("/presence")):  # the page's first heartbeat
            first_ticket(desk, "view=all&sort=created")
        other.page.goto(desk.page.url)
        expect(other.page.locator("#presence-list")).to_contain_text("admin is viewing")
        desk.page.fill("#composer-body", "Checking the logs now")
        expect(desk.page.locator("#presence-list")).to_contain_text("bea is viewing")
        other.page.reload()
        expect(other.page.locator("#presence-list")).to_contain_text("admin is replying")
        other.shot("presence")
    finally:
        other.close()
    desk.page.fill("#composer-body", "")  # leave no draft behind for the tests that share this server
    with desk.page.expect_response(lambda r: r.url.endswith("/presence"), timeout=8000):
        desk.page.locator("#presence").dispatch_event("draft-change")


def test_bulk_change_by_keyboard(desk: Tab) -> None:
    """j/x tick two rows, the bulk bar sets their priority, the queue says how many changed."""
    page = desk.page
    page.goto(f"{desk.live.url}/w/{WS}/queue?view=all&sort=created")
    blur(page)
    for key in ("j", "x", "j", "x"):
        page.keyboard.press(key)
    assert page.locator("input[name=ids]:checked").count() == 2
    assert page.locator("#bulk-count").inner_text() == "2 ticked"
    page.select_option("#bulk-priority", "high")
    page.click("#bulk-apply")
    page.wait_for_url(re.compile(r".*done=2.*"))
    expect(page.locator("#toast")).to_contain_text("Updated 2 tickets.")  # with Undo
    desk.shot("queue-bulk")


def test_save_a_view_and_find_it_in_the_nav(desk: Tab) -> None:
    page = desk.page
    page.goto(f"{desk.live.url}/w/{WS}/queue?view=open&priority=high")
    page.click("details.saved-view summary")
    page.fill("#view-name", "High and open")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*priority=high.*"))
    nav = page.locator("nav.views ul.saved")
    assert nav.inner_text().strip() == "High and open"
    desk.shot("queue-saved-view")
    page.click("text=Delete this saved view")
    page.wait_for_load_state()
    assert page.locator("nav.views ul.saved").count() == 0


def test_a_draft_survives_a_reload(desk: Tab) -> None:
    """Typing pauses for two seconds: the heartbeat saves the draft; a reload (or another browser) gets it."""
    from playwright.sync_api import expect

    def beat_with(text: str) -> Any:
        body = "body=" + text.replace(" ", "+")
        return lambda r: r.url.endswith("/presence") and body + "&" in (r.request.post_data or "") + "&"

    page = desk.page
    first_ticket(desk, "view=all&sort=created")
    with page.expect_response(beat_with("Draft that must not be lost"), timeout=8000):
        page.fill("#composer-body", "Draft that must not be lost")
    expect(page.locator("#draft-status")).to_contain_text("Draft saved")
    page.reload()
    expect(page.locator("#composer-body")).to_have_value("Draft that must not be lost")
    with page.expect_response(beat_with(""), timeout=8000):
        page.fill(
            "#composer-body", ""
        )  # emptied: the next heartbeat discards the draft (the tests share data)
    page.reload()
    expect(page.locator("#composer-body")).to_have_value("")


def test_a_macro_by_its_shortcut(desk: Tab) -> None:
    """/logs then Tab fills the composer from the demo's "Ask for logs" macro, for this ticket's customer."""
    from playwright.sync_api import expect

    page = desk.page
    first_ticket(desk, "view=open&sort=created")
    page.fill("#composer-body", "/logs")
    page.locator("#composer-body").press("Tab")
    expect(page.locator(".macro-applied")).to_contain_text("Ask for logs")
    text = page.locator("#composer-body").input_value()
    assert text.startswith("Hi ") and "{{" not in text and "Could you send us the browser console log" in text
    assert page.locator("#composer-status").input_value() == "waiting"
    desk.shot("ticket-macro")
    page.fill("#composer-body", "")  # leave no draft behind for the tests that share this server
    with page.expect_response(lambda r: r.url.endswith("/presence"), timeout=8000):
        page.locator("#presence").dispatch_event("draft-change")


@pytest.mark.parametrize("width", ["desk", "phone"])
def test_integrations_create_test_retry_delete(request: pytest.FixtureRequest, width: str) -> None:
    """An admin adds a trigger from the nav, copies its secret, sends a test event that fails (localhost is
    refused by the SSRF policy: nothing leaves the machine), reads the attempt, retries it in place and
    deletes the trigger; axe finds nothing on either page, at desk and phone widths."""
    from tests.web import axe

    if not axe.AXE.exists():
        pytest.skip(axe.MISSING)
    tab: Tab = request.getfixturevalue(width)
    page, tid = tab.page, f"crm-{width}"
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=tab.live.url)
    page.click("nav.sections >> text=Integrations")
    page.wait_for_url(re.compile(r".*/settings/integrations$"))
    page.fill("#trigger-id", tid)
    page.fill("#trigger-url", "http://localhost:9/hook")
    page.get_by_label("record.created", exact=True).check()
    page.fill("#trigger-description", "Refused on purpose")
    page.click("form.trigger-form button[type=submit]")
    page.locator(f"#secret-{tid}").wait_for()
    page.click(f"[data-copy='secret-{tid}']")
    expect(page.locator("#announcer")).to_have_text(re.compile(r"^Copied"))
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("whsec_") and copied == page.inner_text(f"#secret-{tid}")
    assert axe.violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    tab.shot("integrations", full=True)
    page.click(f"#trigger-{tid} >> text=Send test event")
    page.wait_for_url(re.compile(rf".*/triggers/{tid}\?tested=.*"))
    for _ in range(50):  # the dispatcher tries at once; reload until the failed attempt is logged
        if page.locator("li.delivery .dstatus-failed").count():
            break
        page.wait_for_timeout(200)
        page.reload()
    row = page.locator("li.delivery").first
    row.locator("summary").click()
    assert "loopback" in row.locator("table.attempts-table").inner_text()
    assert axe.violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    tab.shot("trigger", full=True)
    row.locator("button", has_text="Retry").click()
    page.locator("li.delivery", has_text="Queued to be sent again.").wait_for()
    assert page.url.endswith(f"/triggers/{tid}?tested=" + page.url.split("tested=")[1])  # swapped in place
    page.click(f"#trigger-{tid} summary:has-text('Delete')")
    page.fill(f"#confirm-{tid}", tid)
    page.click(f"#trigger-{tid} button.danger")
    page.wait_for_url(re.compile(r".*/settings/integrations\?deleted=.*"))
    assert page.locator(f"#trigger-{tid}").count() == 0


def tiny_png() -> bytes:
    """A valid 2 by 2 PNG (a thumbnail the browser must decode)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x20\x60\xc0" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("width", ["desk", "phone"])
def test_inbound_hook_create_ingest_log_delete(request: pytest.FixtureRequest, width: str) -> None:
    """An admin adds an inbound hook, copies its ingest URL, a sender's refused payload shows as "1 refused",
    which opens the hook's log filtered to it with the error; then the hook is deleted. axe finds nothing on
    either page, at desk and phone widths."""
    from datetime import UTC, datetime

    import httpx
    import orjson
    from standardwebhooks.webhooks import Webhook

    from tests.web import axe

    if not axe.AXE.exists():
        pytest.skip(axe.MISSING)
    tab: Tab = request.getfixturevalue(width)
    page, hid = tab.page, f"shop-{width}"
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=tab.live.url)
    page.goto(f"{tab.live.url}/w/{WS}/settings/integrations")
    page.fill("#hook-id", hid)
    page.select_option("#hook-collection", "tickets")
    page.fill("#hook-mapping", '{"subject": "/title", "status": {"const": "open"}, "priority": "/urgency"}')
    page.fill("#hook-external-id", "/id")
    page.click("form.hook-form button[type=submit]")
    page.locator(f"#hook-url-{hid}").wait_for()
    page.click(f"[data-copy='hook-url-{hid}']")
    expect(page.locator("#announcer")).to_have_text(re.compile(r"^Copied"))
    url = page.evaluate("navigator.clipboard.readText()")
    secret = page.inner_text(f"#hook-secret-{hid}")
    assert url.endswith("/ingest") and secret.startswith("whsec_")
    assert axe.violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    tab.shot("hooks", full=True)
    body = orjson.dumps({"id": "A-1", "title": "Broken", "urgency": "<b>extreme</b>"})
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": f"msg-{width}",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(f"msg-{width}", now, body),
    }
    assert httpx.post(url, content=body, headers=headers).status_code == 422
    page.goto(f"{tab.live.url}/w/{WS}/settings/integrations#hooks")
    page.click(f"#hook-{hid} a.count-failed")
    page.wait_for_url(re.compile(rf".*/hooks/{hid}\?status=failed$"))
    entry = page.locator("li.ingest").first
    assert "validation_failed" in entry.inner_text()
    entry.locator("summary").click()
    assert "<b>extreme</b>" in entry.locator("pre").inner_text()  # shown as text
    assert page.locator("li.ingest").count() == 1
    assert axe.violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    tab.shot("hook", full=True)
    page.click(f"#hook-{hid} summary:has-text('Delete')")
    page.fill(f"#confirm-hook-{hid}", hid)
    page.click(f"#hook-{hid} button.danger")
    page.wait_for_url(re.compile(r".*/settings/integrations\?deleted_hook=.*"))
    assert page.locator(f"#hook-{hid}").count() == 0


@pytest.mark.parametrize("width", ["desk", "phone"])
def test_reply_with_attachments_shows_a_thumbnail(request: pytest.FixtureRequest, width: str) -> None:
    """The composer attaches an image and a text file to a reply (htmx posts the multipart form); the
    message shows the image as a decoded, lazy thumbnail and the text file as a download. axe finds nothing on
    the whole page of a closed ticket (the grey status chip) with a long timeline (a scroll region), whose h1
    is the subject."""
    from playwright.sync_api import expect

    from tests.web import axe

    if not axe.AXE.exists():
        pytest.skip(axe.MISSING)
    tab: Tab = request.getfixturevalue(width)
    page = tab.page
    page.goto(f"{tab.live.url}/w/{WS}/queue?view=all&sort=updated&status=closed")
    page.locator("tr.row a").first.click()
    page.wait_for_url(re.compile(r".*/tickets/[^/]+$"))
    subject = page.input_value("#f-subject")
    page.set_input_files(
        "#composer-files",
        [
            {"name": f"screen-{width}.png", "mimeType": "image/png", "buffer": tiny_png()},
            {"name": "console.log", "mimeType": "text/plain", "buffer": b"TypeError: x is undefined\n"},
        ],
    )
    page.fill("#composer-body", f"Here is what I see ({width})")
    page.click("#send")
    page.locator("#composer .sent", has_text="Reply sent.").wait_for()
    message = page.locator(".msg", has_text=f"Here is what I see ({width})")
    thumb = message.locator("img")
    thumb.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth === 2", arg=thumb.element_handle())
    assert thumb.get_attribute("loading") == "lazy" and thumb.get_attribute("alt") == f"screen-{width}.png"
    assert message.locator("a[download]", has_text="console.log").count() == 1
    assert page.locator("#composer-files").input_value() == ""  # the composer was cleared
    expect(page.get_by_role("heading", level=1)).to_have_accessible_name(subject)
    assert page.locator("#ticket-meta .status-closed").count() == 1
    assert page.eval_on_selector(".timeline", "ol => ol.scrollHeight > ol.clientHeight")
    assert axe.violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    tab.shot("ticket-attachments", full=True)
