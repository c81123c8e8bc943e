"""People in a real browser (Debian's chromium through Playwright, axe-core for accessibility): signing in
with an email and password, and accepting an invitation, which signs the new agent in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

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
PASSWORD = "granite willow parade"


def refused(tab: Tab, status: int) -> None:
    """A refused form comes back with its 4xx status, which chromium logs as a failed load: expected here."""
    line = f"console: Failed to load resource: the server responded with a status of {status}"
    tab.errors = [e for e in tab.errors if not e.startswith(line)]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A live server with a workspace of tickets and one agent who has a password."""
    from deskbase.support import demo

    data = tmp_path_factory.mktemp("people-live")
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
    demo.load(core, WS, SYSTEM, demo.DemoSize(tickets=30, customers=10, weeks=2))
    # The demo spreads few open tickets over eight agents: make sure Maria has one.
    mine = {
        "subject": "Printer on fire",
        "status": "open",
        "priority": "high",
        "assignee": "maria@support.example",
    }
    core.records.create(WS, "tickets", {"data": mine}, SYSTEM)
    maria = core.people.create(SYSTEM, {"email": "maria@support.example", "name": "Maria Santos"}, PASSWORD)
    core.members.put(SYSTEM, WS, maria["id"], "agent")
    with serving(app) as url:
        yield Live(url, core, raw, app)


def accessible(page: Any) -> None:
    if not AXE.exists():
        pytest.skip(MISSING)
    assert violations(page) == []


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
def test_signing_in_with_email_and_password(browser: Any, live: Live, viewport: dict[str, int]) -> None:
    tab = Tab(browser, live, viewport)
    page = tab.page
    page.goto(live.url + "/")
    page.wait_for_url(re.compile(r".*/signin.*"))
    accessible(page)
    page.fill("#email", "maria@support.example")
    page.fill("#password", "not her password")
    page.click("form:has(#password) button[type=submit]")
    page.locator("#signin-error").wait_for()
    refused(tab, 401)
    assert page.locator("#signin-error").inner_text() == "Wrong email or password."
    assert page.input_value("#email") == "maria@support.example" and page.input_value("#password") == ""
    accessible(page)
    tab.shot("people-signin-error")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/w/{WS}/queue$"))
    # "My open tickets" is Maria's by her email
    assert page.locator("tr.row").count() > 0
    assert "Maria Santos" in page.locator("header .account").inner_text()
    tab.shot("people-queue-mine")
    tab.close()


def test_accepting_an_invitation_signs_the_new_agent_in(browser: Any, live: Live) -> None:
    invitation = live.core.invitations.create(SYSTEM, WS, "tom.new@support.example", "light_agent")
    tab = Tab(browser, live, DESK)
    page = tab.page
    page.goto(live.url + invitation["path"])
    assert page.locator("h1").inner_text() == "Join Acme Support"
    accessible(page)
    page.fill("#name", "Tom New")
    page.select_option("#time_zone", "Europe/Berlin")
    page.fill("#password", "password1")
    page.click("button[type=submit]")
    page.locator("#err-password").wait_for()
    refused(tab, 422)
    assert "common" in page.locator("#err-password").inner_text()
    assert page.get_attribute("#password", "aria-invalid") == "true"
    accessible(page)
    page.fill("#password", "orchid lantern fjord")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf".*/w/{WS}/queue$"))
    assert "Tom New" in page.locator("header .account").inner_text()
    tab.shot("people-invited-agent")
    page.goto(live.url + "/settings")
    assert page.input_value("#profile-name") == "Tom New"
    assert page.input_value("#profile-tz") == "Europe/Berlin"
    accessible(page)
    page.goto(live.url + invitation["path"])  # the link is spent
    assert "already been accepted" in page.locator("main").inner_text()
    refused(tab, 409)
    tab.close()
