"""Single sign-on in a real browser (Debian's chromium through Playwright) against a real OpenID provider
(node-oidc-provider): the button on the sign-in page, the provider's own login form, and back in the
console signed in; a refusal comes back to the sign-in page with its reason. The provider (localhost) and
deskbase (127.0.0.1) are different sites, so the session cookie (SameSite=Strict) must work after a
cross-site redirect chain, as in production."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from deskbase.config import Settings
from deskbase.core.context import SYSTEM
from deskbase.server import build
from tests.people.oidc import CLIENT_ID, CLIENT_SECRET, IDP_NAME, provider, serving_on
from tests.serverproc import free_port
from tests.web.axe import AXE, MISSING, violations
from tests.web.browser import DESK, PHONE, Tab
from tests.web.conftest import CHROMIUM, WS, Live

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)",
    ),
]
ACCOUNTS = {
    "nina": {"email": "nina@support.example", "email_verified": True, "name": "Nina Ito"},
    "omar": {"email": "omar@support.example", "email_verified": True, "name": "Omar Haddad"},
    "pia": {"email": "pia@support.example", "email_verified": False, "name": "Pia"},
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from deskbase.support import demo

    data = tmp_path_factory.mktemp("sso-live")
    port = free_port()
    with provider(data, f"http://127.0.0.1:{port}/signin/sso/callback", ACCOUNTS) as issuer:
        settings = Settings(
            data_dir=str(data),
            replicate=False,
            sla_scheduler=False,
            oidc_issuer=issuer,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
            oidc_name=IDP_NAME,
            oidc_domain_roles=json.dumps({"support.example": {WS: "agent"}}),
        )
        core, app = build(settings)
        raw, _ = core.tokens.ensure_admin_token(data)
        core.workspaces.put(WS, "Acme Support", None, SYSTEM)
        demo.load(core, WS, SYSTEM, demo.DemoSize(tickets=20, customers=5, weeks=1))
        with serving_on(app, port) as url:
            yield Live(url, core, raw, app)


def accessible(page: Any) -> None:
    if not AXE.exists():
        pytest.skip(MISSING)
    assert violations(page) == []


def sso_tab(browser: Any, live: Live, viewport: dict[str, int]) -> Tab:
    """A tab whose provider pages get an empty stylesheet for the web font they import (no DNS here)."""
    tab = Tab(browser, live, viewport)
    fonts = re.compile(r"^https://fonts\.googleapis\.com/")
    tab.context.route(fonts, lambda route: route.fulfill(status=200, content_type="text/css", body=""))
    return tab


def at_provider(page: Any, login: str) -> None:
    """The provider's own sign-in form (its development login: any password)."""
    page.wait_for_url(re.compile(r"^http://localhost:\d+/interaction/"))
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")


@pytest.mark.parametrize(("viewport", "login"), [(DESK, "nina"), (PHONE, "omar")], ids=["desk", "phone"])
def test_signing_in_with_the_provider(browser: Any, live: Live, viewport: dict[str, int], login: str) -> None:
    tab = sso_tab(browser, live, viewport)
    page = tab.page
    page.goto(live.url + "/")
    page.wait_for_url(re.compile(r".*/signin.*"))
    button = page.get_by_role("link", name=f"Sign in with {IDP_NAME}")
    accessible(page)
    tab.shot("sso-signin")
    button.click()
    at_provider(page, login)
    page.wait_for_url(re.compile(rf"^{re.escape(live.url)}/w/{WS}/queue$"))
    assert ACCOUNTS[login]["name"] in page.locator("header .account").inner_text()
    tab.shot("sso-signed-in")
    page.reload()  # the session cookie is a first-party one now: it stays
    assert ACCOUNTS[login]["name"] in page.locator("header .account").inner_text()
    # signing out goes on to the provider (RP-initiated logout), whose confirmation comes back to sign-in
    page.locator("header .account summary").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"^http://localhost:\d+/session/end"))
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(re.compile(rf"^{re.escape(live.url)}/signin"))
    page.get_by_role("link", name=f"Sign in with {IDP_NAME}").click()
    page.wait_for_url(re.compile(r"^http://localhost:\d+/interaction/"))  # the provider asks again
    tab.close()


def test_a_refused_sign_in_says_why_on_the_sign_in_page(browser: Any, live: Live) -> None:
    tab = sso_tab(browser, live, DESK)
    page = tab.page
    page.goto(live.url + "/signin")
    page.get_by_role("link", name=f"Sign in with {IDP_NAME}").click()
    at_provider(page, "pia")
    error = page.locator("#sso-error")
    error.wait_for()
    assert "has not verified your email address (pia@support.example)" in error.inner_text()
    line = "console: Failed to load resource: the server responded with a status of 403"
    tab.errors = [e for e in tab.errors if not e.startswith(line)]
    accessible(page)
    tab.shot("sso-refused")
    tab.close()
