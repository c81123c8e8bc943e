"""Two-step sign-in and "Forgot password?" in a real browser (Debian's chromium through Playwright, axe-core
for accessibility): enrolling an authenticator from Settings, signing in with a password and then a code
(computed with pyotp, as the app would), and a reset link mailed to a real SMTP server and followed."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pyotp
import pytest

from deskbase.config import Settings
from deskbase.core.context import SYSTEM
from deskbase.server import build
from tests.mail.sink import Sink, sink
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
PASSWORD = "harbour lilac tumbler"
LINK = re.compile(r"https://desk\.example\.com(/reset/dsr_[A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def smtp() -> Iterator[Sink]:
    with sink() as s:
        yield s


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A live server with a workspace of tickets and two agents with passwords (no mailbox yet)."""
    from deskbase.support import demo

    data = tmp_path_factory.mktemp("factors-live")
    settings = Settings(
        data_dir=str(data),
        replicate=False,
        sla_scheduler=False,
        password_hash_memory_kib=19456,
        password_hash_time_cost=2,
        public_url="https://desk.example.com",
        webhook_allow_networks="127.0.0.0/8",  # the SMTP sink
        notifications=False,
    )
    core, app = build(settings)
    raw, _ = core.tokens.ensure_admin_token(data)
    core.workspaces.put(WS, "Acme Support", None, SYSTEM)
    demo.load(core, WS, SYSTEM, demo.DemoSize(tickets=20, customers=5, weeks=1))
    for email, name in (("nina@support.example", "Nina Alves"), ("omar@support.example", "Omar Haddad")):
        user = core.people.create(SYSTEM, {"email": email, "name": name}, PASSWORD)
        core.members.put(SYSTEM, WS, user["id"], "agent")
    with serving(app) as url:
        yield Live(url, core, raw, app)


def accessible(page: Any) -> None:
    if not AXE.exists():
        pytest.skip(MISSING)
    assert violations(page) == []


def refused(tab: Tab, status: int) -> None:
    line = f"console: Failed to load resource: the server responded with a status of {status}"
    tab.errors = [e for e in tab.errors if not e.startswith(line)]


def password_step(tab: Tab, email: str) -> None:
    page = tab.page
    page.goto(tab.live.url + "/")
    page.wait_for_url(re.compile(r".*/signin.*"))
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form:has(#password) button[type=submit]")


def test_enrolling_and_signing_in_with_a_password_and_a_code(browser: Any, live: Live) -> None:
    tab = Tab(browser, live, DESK)
    page = tab.page
    password_step(tab, "nina@support.example")
    page.wait_for_url(re.compile(rf".*/w/{WS}/queue$"))  # no second factor yet
    page.goto(live.url + "/settings")
    page.click("text=Set up two-step sign-in")
    page.wait_for_url(re.compile(r".*/settings/totp$"))
    assert page.locator(".qr svg[role=img]").count() == 1
    accessible(page)
    tab.shot("totp-enrol")
    secret = page.locator("#totp-secret").inner_text()
    page.fill("#totp-code", "000000")
    page.click("text=Switch on")
    page.locator("#totp-error").wait_for()
    refused(tab, 422)
    step = int(time.time()) // 30
    page.fill("#totp-code", pyotp.TOTP(secret).generate_otp(step))
    page.click("text=Switch on")
    page.locator(".recovery-codes").wait_for()
    assert page.locator(".recovery-codes li").count() == 10
    recovery = page.locator(".recovery-codes li").first.inner_text()
    accessible(page)
    tab.close()

    # a new browser: the password, then the code (one step on, since the confirming code is spent)
    tab = Tab(browser, live, DESK)
    page = tab.page
    password_step(tab, "nina@support.example")
    page.wait_for_url(re.compile(r".*/signin/code.*"))
    assert page.locator("h1").inner_text() == "Two-step sign-in"
    accessible(page)
    page.goto(live.url + "/settings")  # half signed in is not signed in
    page.wait_for_url(re.compile(r".*/signin\?next=.*"))
    password_step(tab, "nina@support.example")
    page.wait_for_url(re.compile(r".*/signin/code.*"))
    page.fill("#code", "123456")
    page.keyboard.press("Enter")
    page.locator("#code-error").wait_for()
    refused(tab, 401)
    assert page.locator("#code-error").inner_text() == "The code is wrong or was used already."
    assert page.get_attribute("#code", "aria-invalid") == "true"
    accessible(page)
    tab.shot("totp-signin-error")
    page.fill("#code", pyotp.TOTP(secret).generate_otp(step + 1))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/w/{WS}/queue$"))
    assert "Nina Alves" in page.locator("header .account").inner_text()
    tab.close()

    # a recovery code instead of the app
    tab = Tab(browser, live, DESK)
    page = tab.page
    password_step(tab, "nina@support.example")
    page.wait_for_url(re.compile(r".*/signin/code.*"))
    page.fill("#code", recovery)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/w/{WS}/queue$"))
    page.goto(live.url + "/settings")
    assert "9 of 10 recovery codes left" in page.locator("main").inner_text()
    tab.close()


def test_forgot_password_mails_a_link_that_sets_a_new_one(browser: Any, live: Live, smtp: Sink) -> None:
    tab = Tab(browser, live, DESK)
    page = tab.page
    page.goto(live.url + "/signin")
    page.click("text=Forgot password?")
    page.wait_for_url(re.compile(r".*/signin/forgot$"))
    assert "deskbase users reset-password" in page.locator("main").inner_text()  # no mailbox yet
    accessible(page)
    smtp.reset()
    box = {"address": "help@acme.example", "name": "Acme Support", "outbound": smtp.outbound()}
    r = httpx.put(
        f"{live.url}/v1/workspaces/{WS}/mailboxes/support",
        json=box,
        headers={"Authorization": f"Bearer {live.token}"},
    )
    assert r.status_code == 201, r.text
    page.reload()
    page.fill("#email", "omar@support.example")
    accessible(page)
    page.click("text=Send a reset link")
    page.locator("main [role=status]").wait_for()
    assert "on its way" in page.locator("main [role=status]").inner_text()
    accessible(page)
    tab.shot("forgot-sent")
    (got,) = smtp.wait_for(1)
    assert got.rcpt == ["omar@support.example"]
    path = LINK.search(got.msg.get_content()).group(1)  # type: ignore[union-attr]
    page.goto(live.url + path)
    assert "omar@support.example" in page.locator("main").inner_text()
    page.fill("#password", "tundra pepper canal")
    page.click("text=Set password and sign in")
    page.wait_for_url(re.compile(rf"{re.escape(live.url)}/(w/{WS}/queue)?$"))
    assert "Omar Haddad" in page.locator("header .account").inner_text()
    page.goto(live.url + path)  # the link is spent
    assert "not valid (used or expired)" in page.locator("main").inner_text()
    refused(tab, 404)
    tab.close()


def test_a_workspace_that_requires_two_step_sign_in_sends_a_new_member_to_set_it_up(
    browser: Any, live: Live
) -> None:
    from playwright.sync_api import expect

    core = live.core
    core.workspaces.put("strict", "Strict Support", {"require_two_factor": True}, SYSTEM)
    core.templates.apply("strict", "support", SYSTEM)
    pia = core.people.create(SYSTEM, {"email": "pia@support.example", "name": "Pia Lund"}, PASSWORD)
    core.members.put(SYSTEM, "strict", pia["id"], "agent")
    tab = Tab(browser, live, DESK)
    page = tab.page
    password_step(tab, "pia@support.example")
    # signed in, but every page leads here until it is set up
    expect(page).to_have_url(re.compile(r".*/settings/totp(\?.*)?$"))
    expect(page.locator("#totp-required")).to_contain_text("Strict Support requires two-step sign-in")
    accessible(page)
    tab.shot("totp-required")
    page.goto(live.url + "/w/strict/queue")
    expect(page).to_have_url(re.compile(r".*/settings/totp\?next=%2Fw%2Fstrict%2Fqueue$"))
    page.get_by_role("button", name="Set up two-step sign-in").click()
    expect(page.locator(".qr svg[role=img]")).to_have_count(1)
    expect(page.locator("text=Not now")).to_have_count(0)  # no way round it
    secret = page.locator("#totp-secret").inner_text()
    page.fill("#totp-code", pyotp.TOTP(secret).now())
    page.click("text=Switch on")
    expect(page.locator(".recovery-codes li")).to_have_count(10)
    accessible(page)
    page.click("#totp-continue")
    expect(page).to_have_url(re.compile(r".*/w/strict/queue$"))
    expect(page.locator("header .account")).to_contain_text("Pia Lund")
    tab.close()


def test_an_owner_requires_two_step_sign_in_from_settings_people(browser: Any, live: Live) -> None:
    from playwright.sync_api import expect

    core = live.core
    core.workspaces.put("lax", "Lax Support", None, SYSTEM)
    core.templates.apply("lax", "support", SYSTEM)
    lee = core.people.create(SYSTEM, {"email": "lee@support.example", "name": "Lee Owner"}, PASSWORD)
    core.members.put(SYSTEM, "lax", lee["id"], "owner")
    tab = Tab(browser, live, DESK)
    page = tab.page
    password_step(tab, "lee@support.example")
    expect(page).to_have_url(re.compile(r".*/w/lax/queue$"))
    page.get_by_role("link", name="People").click()
    expect(page.locator("td.two-factor")).to_have_text(["Off"])
    accessible(page)
    tab.shot("people-settings")
    page.check("#require-two-factor")
    page.get_by_role("button", name="Save").click()
    # the owner is a member too: asked to set it up before the page comes back
    expect(page.locator("#totp-required")).to_contain_text("Lax Support requires two-step sign-in")
    expect(page).to_have_url(re.compile(r".*/settings/totp\?next=%2Fw%2Flax%2Fsettings%2Fpeople.*"))
    tab.close()
