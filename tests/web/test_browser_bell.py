"""The bell in a real browser (Debian's chromium through Playwright, axe-core for accessibility) against a live
server running the notification loop: a ticket assigned to Maria by Tom raises her bell's count without a
reload and is announced; opening it marks it read and goes to the ticket; there she @mentions Tom in a
note through the composer's autocomplete, and Tom is notified."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from deskbase.config import Settings
from deskbase.core.context import SYSTEM
from deskbase.notify.service import Notifications
from deskbase.server import build
from tests.web.axe import AXE, MISSING, violations
from tests.web.browser import DESK, Tab
from tests.web.conftest import CHROMIUM, WS, Live, serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)",
    ),
]
PASSWORD = "granite willow parade"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("bell-live")
    settings = Settings(
        reply_hold_seconds=0,
        data_dir=str(data),
        replicate=False,
        sla_scheduler=False,
        password_hash_memory_kib=19456,
        password_hash_time_cost=2,
    )
    core, app = build(settings)
    raw, _ = core.tokens.ensure_admin_token(data)
    core.workspaces.put(WS, "Acme Support", None, SYSTEM)
    core.templates.apply(WS, "support", SYSTEM)
    for email, name in (("maria@support.example", "Maria Santos"), ("tom@support.example", "Tom Becker")):
        user = core.people.create(SYSTEM, {"email": email, "name": name}, PASSWORD)
        core.members.put(SYSTEM, WS, user["id"], "agent")
    with serving(app) as url:
        yield Live(url, core, raw, app)


def accessible(page: Any) -> None:
    if not AXE.exists():
        pytest.skip(MISSING)
    assert violations(page) == []


def user_id(live: Live, email: str) -> str:
    return next(m["user"]["id"] for m in live.core.members.list(WS) if m["user"]["email"] == email)


def test_the_bell_counts_live_and_a_mention_reaches_a_colleague(browser: Any, live: Live) -> None:
    core = live.core
    tom = core.people.actor(user_id(live, "tom@support.example"))
    ticket, _ = core.records.create(
        WS, "tickets", {"data": {"subject": "Printer on fire", "status": "open", "priority": "high"}}, tom
    )
    tab = Tab(browser, live, DESK)
    page = tab.page
    page.goto(live.url + "/signin")
    page.fill("#email", "maria@support.example")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/w/{WS}/queue$"))
    bell = page.locator("#bell")
    assert bell.get_attribute("aria-label") == "Notifications, 0 unread"
    page.wait_for_timeout(300)  # the stream is open (its first event came) before the write below
    core.records.patch(WS, "tickets", ticket["id"], {"assignee": "maria@support.example"}, tom)
    from playwright.sync_api import expect

    expect(page.locator("#bell .bell-count")).to_have_text("1", timeout=15_000)
    assert bell.get_attribute("aria-label") == "Notifications, 1 unread"
    assert "Assigned to you" in page.locator("#announcer").inner_text()
    accessible(page)
    tab.shot("bell-unread")
    bell.click()
    page.wait_for_url(re.compile(rf".*/w/{WS}/notifications$"))
    item = page.locator(".notification.unread")
    assert "Printer on fire" in item.inner_text()
    accessible(page)
    tab.shot("notifications-page")
    item.locator("button.link").click()
    page.wait_for_url(re.compile(rf".*/w/{WS}/tickets/{ticket['id']}.*"))
    assert page.locator("#bell").get_attribute("aria-label") == "Notifications, 0 unread"
    # a note mentioning Tom, picked from the autocomplete
    page.check("#type-note")
    page.click("#composer-body")
    page.keyboard.type("Can you look, @To")
    option = page.locator("#mention-list [role=option]").first
    option.wait_for()
    assert "Tom Becker" in option.inner_text()
    accessible(page)
    page.keyboard.press("Enter")
    assert page.input_value("#composer-body") == "Can you look, @Tom Becker "
    page.keyboard.type("thanks")
    assert page.input_value("#composer-mentions") == user_id(live, "tom@support.example")
    page.click("#send")
    page.locator("#composer .sent").filter(has_text="Note added.").wait_for()
    notes = core.extensions[Notifications]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = notes.store.page(WS, tom.id, "newest", 10)["data"]
        if got:
            break
        time.sleep(0.05)
    assert [n["kind"] for n in got] == ["mention"] and got[0]["actor"]["name"] == "Maria Santos"
    page.goto(live.url + "/settings")  # her notification choices
    page.check("#mention-email")
    page.click("form[action='/settings/notifications'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/settings\?saved=1.*"))
    assert page.is_checked("#mention-email") and not page.is_checked("#assigned-email")
    accessible(page)
    tab.shot("settings-notifications", full=True)
    tab.close()
