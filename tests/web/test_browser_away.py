"""An agent's away switch in a real browser (Debian's chromium through Playwright, axe-core): the header's
menu switches it, the header says so, and it is still on after signing out and in again."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from deskbase.config import Settings
from deskbase.core.context import SYSTEM
from deskbase.server import build
from tests.web.axe import AXE, violations
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
    data = tmp_path_factory.mktemp("away-live")
    settings = Settings(
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
    maria = core.people.create(SYSTEM, {"email": "maria@support.example", "name": "Maria Santos"}, PASSWORD)
    core.members.put(SYSTEM, WS, maria["id"], "agent")
    with serving(app) as url:
        yield Live(url, core, raw, app)


def sign_in(page: Any, live: Live) -> None:
    page.goto(live.url + "/signin")
    page.fill("#email", "maria@support.example")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/w/{WS}/queue$"))


def test_the_away_switch_in_the_header_outlives_signing_out(browser: Any, live: Live) -> None:
    tab = Tab(browser, live, DESK)
    page = tab.page
    sign_in(page, live)
    menu = page.locator("header .account details.menu").last
    menu.locator("summary").click()
    switch = page.locator("#away-switch")
    expect(switch).to_have_text("Set yourself away")
    expect(switch).to_have_attribute("aria-pressed", "false")
    switch.click()
    page.wait_for_url(re.compile(rf".*/w/{WS}/queue$"))
    expect(page.locator("#away-badge")).to_have_text("away")
    menu.locator("summary").click()
    expect(page.locator("#away-switch")).to_have_attribute("aria-pressed", "true")
    if AXE.exists():
        assert violations(page) == []
    tab.shot("away-switch")
    page.locator("header form[action='/signout'] button").click()
    page.wait_for_url(re.compile(r".*/signin.*"))
    sign_in(page, live)
    expect(page.locator("#away-badge")).to_be_visible()
    menu.locator("summary").click()
    page.locator("#away-switch").click()
    page.wait_for_url(re.compile(rf".*/w/{WS}/queue$"))
    expect(page.locator("#away-badge")).to_have_count(0)
    assert (
        live.core.people.me(live.core.people.actor(live.core.people.list(SYSTEM)["data"][0]["id"]))["away"]
        is False
    )
    tab.close()
