"""Signing out of a session that single sign-on opened signs out at the provider too (OpenID Connect
RP-Initiated Logout), against a real provider (node-oidc-provider) and real deskbase servers: the ID token
kept sealed with the session, the provider's own confirmation, the way back to the sign-in page, and the
setting that turns it off. Password sessions sign out as before."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from deskbase.config import Settings
from deskbase.core import tables as t
from deskbase.core.context import SYSTEM
from deskbase.server import build
from tests.people.conftest import PASSWORD
from tests.people.oidc import CLIENT_ID, CLIENT_SECRET, IDP_NAME, Browser, Sso, provider, serving_on
from tests.serverproc import free_port

WS = "acme"
ACCOUNTS: dict[str, dict[str, Any]] = {
    name: {"email": f"{name}@support.example", "email_verified": True, "name": name.title()}
    for name in ("kim", "lou", "max", "ned")
}
_LOGOUT_FORM = re.compile(
    r'<form id="op.logoutForm" method="post" action="([^"]+)"><input type="hidden" name="xsrf" value="([^"]+)"/>'
)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sso, Sso]]:
    """One provider, two deskbase servers: signing out at the provider on (the default), and off."""
    data = tmp_path_factory.mktemp("sso-logout")
    ports = free_port(), free_port()
    callbacks = [f"http://127.0.0.1:{p}/signin/sso/callback" for p in ports]
    with provider(data, callbacks, ACCOUNTS) as issuer:
        made = []
        for n, logout in enumerate((True, False)):
            settings = Settings(
                data_dir=str(data / f"desk{n}"),
                replicate=False,
                sla_scheduler=False,
                password_hash_memory_kib=19456,
                password_hash_time_cost=2,
                oidc_issuer=issuer,
                oidc_client_id=CLIENT_ID,
                oidc_client_secret=CLIENT_SECRET,
                oidc_name=IDP_NAME,
                oidc_domain_roles=json.dumps({"support.example": {WS: "agent"}}),
                oidc_logout=logout,
            )
            core, app = build(settings)
            core.workspaces.put(WS, "Acme Support", None, SYSTEM)
            made.append((core, app))
        with serving_on(made[0][1], ports[0]) as on, serving_on(made[1][1], ports[1]) as off:
            yield Sso(on, issuer, *made[0]), Sso(off, issuer, *made[1])


def sign_out(b: Browser) -> Any:
    csrf = b.client.cookies.get("deskbase_csrf", path="/") or b.client.cookies.get("deskbase_csrf")
    return b.client.post(b.sso.url + "/signout", data={"csrf": csrf or ""})


def straight_back(b: Browser) -> bool:
    """Whether the provider sends a new sign-in straight back (its own session is alive) rather than asking
    the person to sign in there."""
    url = b.start()
    for _ in range(20):
        r = b.client.get(url)
        if not r.is_redirect:
            return False
        url = urljoin(url, r.headers["location"])
        if url.startswith(b.sso.callback):
            return True
    raise AssertionError("the provider kept redirecting")


def sessions_of(sso: Sso, email: str) -> list[Any]:
    with sso.core.db.read() as conn:
        uid = sso.core.people.by_email(conn, email).id
        cs = t.console_sessions
        return list(conn.execute(select(cs).where(cs.c.user_id == uid)).all())


def test_signing_out_of_a_single_sign_on_session_signs_out_at_the_provider(servers: tuple[Sso, Sso]) -> None:
    sso, _ = servers
    b = sso.browser()
    assert b.sign_in("kim").status_code == 200
    assert b.get("/settings").status_code == 200
    (row,) = sessions_of(sso, "kim@support.example")
    assert row.sso_logout and "eyJ" not in row.sso_logout  # the ID token is sealed at rest, never plain
    assert straight_back(b)  # the provider remembers Kim
    out = sign_out(b)
    assert out.status_code == 200, out.text
    refresh = out.headers["refresh"]
    assert refresh.startswith(f"0; url={sso.issuer}/session/end?")
    query = parse_qs(urlsplit(refresh.removeprefix("0; url=")).query)
    assert query["post_logout_redirect_uri"] == [sso.url + "/signin"] and query["client_id"] == [CLIENT_ID]
    assert query["id_token_hint"][0].count(".") == 2
    assert b.get("/settings").status_code == 303  # the deskbase session has ended already
    assert sessions_of(sso, "kim@support.example") == []
    # at the provider: its confirmation, then back to deskbase's sign-in page
    ask = b.client.get(refresh.removeprefix("0; url="))
    form = _LOGOUT_FORM.search(ask.text)
    assert ask.status_code == 200 and form, ask.text
    done = b.client.post(urljoin(sso.issuer, form.group(1)), data={"xsrf": form.group(2), "logout": "yes"})
    assert done.is_redirect and done.headers["location"].startswith(sso.url + "/signin"), done.text
    assert not straight_back(b)  # signed out there too: the provider asks again
    b.close()


def test_a_second_step_after_single_sign_on_keeps_the_provider_logout(servers: tuple[Sso, Sso]) -> None:
    sso, _ = servers
    made = sso.core.people.create(SYSTEM, {"email": "ned@support.example", "name": "Ned"}, PASSWORD)
    sso.core.members.put(SYSTEM, WS, made["id"], "agent")
    actor = sso.core.people.actor(made["id"])
    recovery = sso.core.factors.confirm(actor, pyotp.TOTP(sso.core.factors.begin(actor)["secret"]).now())
    b = sso.browser()
    assert b.sign_in("ned").headers["refresh"] == "0; url=/signin/code?next=/"
    csrf = b.client.cookies.get("deskbase_csrf")
    done = b.client.post(
        sso.url + "/signin/code", data={"code": recovery["recovery_codes"][0], "csrf": csrf or ""}
    )
    assert done.status_code == 303, done.text
    (row,) = sessions_of(sso, "ned@support.example")
    assert row.sso_logout
    assert sign_out(b).headers["refresh"].startswith(f"0; url={sso.issuer}/session/end?")
    b.close()


def test_with_the_setting_off_or_after_a_password_signing_out_stays_at_deskbase(
    servers: tuple[Sso, Sso],
) -> None:
    on, off = servers
    b = off.browser()
    assert b.sign_in("lou").status_code == 200
    (row,) = sessions_of(off, "lou@support.example")
    assert row.sso_logout is None  # nothing kept that nothing will use
    out = sign_out(b)
    assert (out.status_code, out.headers["location"]) == (303, "/signin")
    assert straight_back(b)  # still signed in at the provider
    b.close()
    made = on.core.people.create(SYSTEM, {"email": "pat@support.example", "name": "Pat"}, PASSWORD)
    on.core.members.put(SYSTEM, WS, made["id"], "agent")
    b = on.browser()
    b.client.get(on.url + "/signin")
    csrf = b.client.cookies.get("deskbase_csrf")
    r = b.client.post(
        on.url + "/signin", data={"email": "pat@support.example", "password": PASSWORD, "csrf": csrf or ""}
    )
    assert r.status_code == 303, r.text
    out = sign_out(b)
    assert (out.status_code, out.headers["location"]) == (303, "/signin")
    b.close()
