"""The assignee picker in a real browser (Debian's chromium through Playwright, axe-core): the workspace's
agents with who is online and each one's open load, chosen by keyboard, saved at once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from deskbase.config import Settings
from deskbase.core.context import SYSTEM
from deskbase.server import build
from tests.web.axe import AXE, MISSING, violations
from tests.web.browser import DESK, PHONE, Tab
from tests.web.conftest import CHROMIUM, WS, Live, serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)",
    ),
]
OPEN = {"status": "open", "priority": "high"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Two agents: Maria online with two open tickets, Tom away with none; a ticket nobody has."""
    data = tmp_path_factory.mktemp("assignee-live")
    core, app = build(
        Settings(reply_hold_seconds=0, data_dir=str(data), replicate=False, sla_scheduler=False)
    )
    raw, _ = core.tokens.ensure_admin_token(data)
    core.workspaces.put(WS, "Acme Support", None, SYSTEM)
    core.templates.apply(WS, "support", SYSTEM)
    for email, name in (("maria@support.example", "Maria Santos"), ("tom@support.example", "Tom Becker")):
        uid = core.people.create(SYSTEM, {"email": email, "name": name})["id"]
        core.members.put(SYSTEM, WS, uid, "agent")
        if email.startswith("maria"):
            core.sessions.open(None, uid)
    for n in range(2):
        body = {"subject": f"Maria's {n}", **OPEN, "assignee": "maria@support.example"}
        core.records.create(WS, "tickets", {"data": body}, SYSTEM)
    core.records.create(WS, "tickets", {"id": "loose", "data": {"subject": "Nobody's yet", **OPEN}}, SYSTEM)
    with serving(app) as url:
        yield Live(url, core, raw, app)


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
def test_the_assignee_picker_shows_presence_and_load_and_saves(
    browser: Any, live: Live, viewport: dict[str, int]
) -> None:
    live.core.records.patch(WS, "tickets", "loose", {"assignee": None}, SYSTEM)
    tab = Tab(browser, live, viewport)
    page = tab.page
    tab.sign_in()
    page.goto(f"{live.url}/w/{WS}/tickets/loose")
    picker = page.locator("#f-assignee")
    labels = [t.strip() for t in picker.locator("option").all_inner_texts()]
    assert labels == ["Unassigned", "Maria Santos · online · 2 open", "Tom Becker · offline · 0 open"]
    assert picker.input_value() == ""
    if AXE.exists():
        assert violations(page) == []
    elif viewport is DESK:
        pytest.skip(MISSING)
    # keyboard: `a` focuses the assignee, arrows choose, the change saves at once (htmx)
    page.locator("body").press("a")
    assert page.evaluate("document.activeElement.id") == "f-assignee"
    with page.expect_response(re.compile(r".*/tickets/loose/edit$")):
        picker.select_option("tom@support.example")
    page.reload()
    assert page.locator("#f-assignee").input_value() == "tom@support.example"
    assert "Tom Becker · offline · 1 open" in page.locator("#f-assignee").inner_text()
    assert live.core.records.get(WS, "tickets", "loose")["data"]["assignee"] == "tom@support.example"
    tab.shot("assignee-picker")
    tab.close()


def test_the_new_ticket_form_and_the_bulk_bar_offer_the_same_picker(browser: Any, live: Live) -> None:
    """Both pick from the agents with presence (Tom switched to away) and load, and save what was picked."""
    tom = live.core.people.list(SYSTEM, email="tom@support.example")["data"][0]["id"]
    live.core.people.patch(SYSTEM, tom, {"away": True})
    tab = Tab(browser, live, DESK)
    page = tab.page
    tab.sign_in()
    page.goto(f"{live.url}/w/{WS}/tickets/new")
    picker = page.locator("#t-assignee")
    labels = [t.strip() for t in picker.locator("option").all_inner_texts()]
    assert labels[0] == "Unassigned" and re.fullmatch(r"Maria Santos · online · \d+ open", labels[1])
    assert re.fullmatch(r"Tom Becker · away · \d+ open", labels[2])
    if AXE.exists():
        assert violations(page) == []
    page.fill("#customer-email", "picker@cust.example")
    page.fill("#customer-name", "Pia Picker")
    page.fill("#t-subject", "Filed with the picker")
    picker.select_option("tom@support.example")
    page.locator("button.primary", has_text="Create ticket").click()
    page.wait_for_url(re.compile(rf".*/w/{WS}/tickets/(?!new)[^/]+$"))
    expect(page.locator("#f-assignee")).to_have_value("tom@support.example")
    tab.shot("new-ticket-picker")
    # the bulk bar: tick the new ticket, give it to Maria
    page.goto(f"{live.url}/w/{WS}/queue?view=all&sort=created")
    bulk = page.locator("#bulk-assignee")
    assert bulk.locator("option").first.inner_text().strip() == "keep"
    row = page.locator("tr", has_text="Filed with the picker")
    row.locator("input[name=ids]").check()
    bulk.select_option("maria@support.example")
    page.click("#bulk-apply")
    page.wait_for_url(re.compile(r".*done=1.*"))
    found = live.core.records.query(
        WS, "tickets", {"field": "data.subject", "op": "eq", "value": "Filed with the picker"}
    )
    assert [t["data"]["assignee"] for t in found["data"]] == ["maria@support.example"]
    live.core.people.patch(SYSTEM, tom, {"away": False})
    tab.close()
