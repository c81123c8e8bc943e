"""OpenID Connect single sign-on against a real provider (node-oidc-provider, started here) and a real deskbase
server: the whole flow over HTTP, who the person turns out to be (created, linked, refused), the domain's
roles, and every check that stops a forged or replayed answer."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyotp
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from sqlalchemy import select, update

from deskbase.config import Settings
from deskbase.core.context import SYSTEM
from deskbase.core.sso_tables import sso_logins, user_identities
from deskbase.server import build
from deskbase.sso.provider import SsoFailure
from deskbase.sso.service import SingleSignOn
from deskbase.sso.settings import BadSsoSetting, OidcSettings
from tests.people.conftest import PASSWORD, People, serve
from tests.people.oidc import CLIENT_ID, CLIENT_SECRET, IDP_NAME, Browser, Sso, provider, serving_on
from tests.serverproc import free_port

WS = "acme"
ACCOUNTS: dict[str, dict[str, Any]] = {
    "ana": {
        "email": "Ana@Mapped.example",
        "email_verified": True,
        "name": "Ana Lima",
        "zoneinfo": "Europe/Lisbon",
    },
    "ben": {"email": "ben@mapped.example", "email_verified": False, "name": "Ben"},
    "cara": {"email": "cara@other.example", "email_verified": True, "name": "Cara"},
    "dan": {"email": "dan@other.example", "email_verified": True, "name": "Dan"},
    "eve": {"email": "eve@other.example", "email_verified": True, "name": "Eve"},
    "fay": {"email": "fay@mapped.example", "email_verified": True, "name": "Fay"},
    "gil": {"email": "gil@mapped.example", "email_verified": True, "name": "Gil"},
    "hal": {"email": "hal@mapped.example", "email_verified": True, "name": "Hal"},
    "ida": {"email": "ida@other.example", "email_verified": True, "name": "Ida"},
    "jo": {"email": "jo@other.example", "email_verified": True, "name": "Jo"},
    "ida-again": {"email": "ida@other.example", "email_verified": True, "name": "Ida's second account"},
}


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sso]:
    data = tmp_path_factory.mktemp("sso")
    port = free_port()
    with provider(data, f"http://127.0.0.1:{port}/signin/sso/callback", ACCOUNTS) as issuer:
        secret_file = data / "client-secret"
        secret_file.write_text(CLIENT_SECRET + "\n")
        settings = Settings(
            data_dir=str(data),
            replicate=False,
            sla_scheduler=False,
            password_hash_memory_kib=19456,
            password_hash_time_cost=2,
            oidc_issuer=issuer,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret_file=str(secret_file),
            oidc_name=IDP_NAME,
            oidc_domain_roles=json.dumps({"mapped.example": {WS: "agent", "ghost": "agent"}}),
        )
        core, app = build(settings)
        core.workspaces.put(WS, "Acme Support", None, SYSTEM)
        core.templates.apply(WS, "support", SYSTEM)
        with serving_on(app, port) as url:
            yield Sso(url, issuer, core, app)


@pytest.fixture
def browser(sso: Sso) -> Iterator[Browser]:
    b = sso.browser()
    yield b
    b.close()


def user(sso: Sso, email: str) -> Any:
    with sso.core.db.read() as conn:
        return sso.core.people.by_email(conn, email)


def role(sso: Sso, user_id: str, ws: str = WS) -> str | None:
    with sso.core.db.read() as conn:
        row = sso.core.members.membership(conn, ws, user_id)
    return row.role if row is not None else None


def make_user(sso: Sso, email: str, ws_role: str | None) -> str:
    made = sso.core.people.create(SYSTEM, {"email": email, "name": email.split("@")[0].title()}, PASSWORD)
    if ws_role is not None:
        sso.core.members.put(SYSTEM, WS, made["id"], ws_role)
    return str(made["id"])


def signed_in_as(b: Browser, email: str) -> None:
    """The browser's session is the person's: the console opens (no sign-in page) and Settings names them."""
    r = b.get("/settings")
    assert r.status_code == 200, (r.status_code, r.headers.get("location"))
    assert email in r.text


def refused(r: Any, status: int, text: str) -> None:
    assert r.status_code == status, r.text
    assert "Sign in to deskbase" in r.text and text in r.text
    assert "deskbase_session" not in r.cookies


# ---- the button ---------------------------------------------------------------------------------------
def test_the_sign_in_page_offers_the_provider_only_when_configured(sso: Sso, people: People) -> None:
    b = sso.browser()
    page = b.get("/signin?next=/w/acme/queue")
    assert f"Sign in with {IDP_NAME}" in page.text
    assert 'href="/signin/sso?next=/w/acme/queue"' in page.text
    b.close()
    plain = people.browser()
    assert "/signin/sso" not in plain.get("/signin").text
    assert plain.get("/signin/sso").status_code == 404
    assert plain.get("/signin/sso/callback?state=x&code=y").status_code == 404


# ---- who the person is --------------------------------------------------------------------------------
def test_a_first_sign_in_creates_the_user_with_the_domains_roles(
    sso: Sso, browser: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        r = browser.sign_in("ana", next_path="/w/acme/queue")
    # a page of ours goes on (a redirect would lose the SameSite=Strict session cookie after the provider's)
    assert r.status_code == 200 and r.headers["refresh"] == "0; url=/w/acme/queue"
    assert "deskbase_session" in r.cookies
    assert "deskbase_sso" not in browser.client.cookies  # the one-sign-in cookie is spent
    ana = user(sso, "ana@mapped.example")
    assert ana is not None and ana.name == "Ana Lima" and ana.time_zone == "Europe/Lisbon"
    assert ana.password_hash is None
    assert role(sso, ana.id) == "agent"
    assert "ghost" in caplog.text  # a mapped workspace that does not exist is skipped, and said so
    signed_in_as(browser, "ana@mapped.example")
    with sso.core.db.read() as conn:
        link = conn.execute(select(user_identities).where(user_identities.c.user_id == ana.id)).one()
    assert (link.issuer, link.subject, link.email) == (sso.issuer, "ana", "ana@mapped.example")

    again = sso.browser()  # another browser: found by the link, no second user
    assert again.sign_in("ana").status_code == 200
    signed_in_as(again, "ana@mapped.example")
    again.close()
    assert [u["email"] for u in sso.core.people.list(SYSTEM, email="ana@mapped.example")["data"]] == [
        "ana@mapped.example"
    ]


def test_an_existing_user_is_linked_by_their_verified_email(sso: Sso, browser: Browser) -> None:
    cara = make_user(sso, "cara@other.example", "analyst")
    assert browser.sign_in("cara").status_code == 200
    signed_in_as(browser, "cara@other.example")
    assert role(sso, cara) == "analyst"  # an unmapped domain changes no role
    with sso.core.db.read() as conn:
        link = conn.execute(select(user_identities).where(user_identities.c.subject == "cara")).one()
    assert link.user_id == cara


def test_the_mapping_raises_a_lower_role_and_never_lowers_a_higher_one(sso: Sso) -> None:
    fay = make_user(sso, "fay@mapped.example", "light_agent")
    gil = make_user(sso, "gil@mapped.example", "admin")
    for login in ("fay", "gil"):
        b = sso.browser()
        assert b.sign_in(login).status_code == 200
        b.close()
    assert role(sso, fay) == "agent"
    assert role(sso, gil) == "admin"


def test_an_unverified_email_is_refused(sso: Sso, browser: Browser) -> None:
    r = browser.sign_in("ben")
    refused(r, 403, f"{IDP_NAME} has not verified your email address (ben@mapped.example)")
    assert user(sso, "ben@mapped.example") is None


def test_no_mapping_and_no_membership_is_refused(sso: Sso, browser: Browser) -> None:
    r = browser.sign_in("dan")
    refused(r, 403, "ask an administrator to invite you")
    assert user(sso, "dan@other.example") is None
    # A user without any membership is refused too, and is not linked by the failed attempt.
    make_user(sso, "dan@other.example", None)
    refused(sso.browser().sign_in("dan"), 403, "has no workspace on this server yet")
    with sso.core.db.read() as conn:
        assert conn.execute(select(user_identities).where(user_identities.c.subject == "dan")).first() is None


def test_a_suspended_user_is_refused(sso: Sso, browser: Browser) -> None:
    eve = make_user(sso, "eve@other.example", "agent")
    sso.core.people.patch(SYSTEM, eve, {"status": "suspended"})
    refused(browser.sign_in("eve"), 403, "This account is suspended")
    assert browser.get("/settings").status_code == 303  # no session: off to the sign-in page


def test_a_second_provider_account_with_the_same_email_is_not_let_in(sso: Sso) -> None:
    make_user(sso, "ida@other.example", "agent")
    first = sso.browser()
    assert first.sign_in("ida").status_code == 200
    refused(sso.browser().sign_in("ida-again"), 403, "linked to another")


def test_a_person_with_two_step_sign_in_still_gives_their_code(sso: Sso, browser: Browser) -> None:
    """As after a password (and after a reset link or an invitation): no session before the code."""
    jo = make_user(sso, "jo@other.example", "agent")
    actor = sso.core.people.actor(jo)
    secret = sso.core.factors.begin(actor)["secret"]
    recovery = sso.core.factors.confirm(actor, pyotp.TOTP(secret).now())["recovery_codes"]
    r = browser.sign_in("jo", next_path="/w/acme/queue")
    assert r.status_code == 200 and r.headers["refresh"] == "0; url=/signin/code?next=/w/acme/queue"
    assert "deskbase_session" not in r.cookies and "deskbase_signin" in r.cookies
    assert browser.get("/settings").status_code == 303
    assert 'name="code"' in browser.get("/signin/code?next=/w/acme/queue").text
    csrf = browser.client.cookies.get("deskbase_csrf")
    done = browser.client.post(
        sso.url + "/signin/code", data={"code": recovery[0], "next": "/w/acme/queue", "csrf": csrf or ""}
    )
    assert (done.status_code, done.headers["location"]) == (303, "/w/acme/queue"), done.text
    signed_in_as(browser, "jo@other.example")


# ---- forged, replayed and cancelled answers -----------------------------------------------------------
def test_a_callback_in_another_browser_or_with_another_state_is_refused(sso: Sso, browser: Browser) -> None:
    callback = browser.at_provider(browser.start(), "hal")
    elsewhere = sso.browser()  # an attacker's link opened by someone else: no state cookie there
    refused(elsewhere.back(callback), 400, "did not start in this browser")
    elsewhere.close()
    forged = callback.replace("state=", "state=x")
    refused(browser.back(forged), 400, "did not start in this browser")
    assert user(sso, "hal@mapped.example") is None


def test_a_replayed_callback_is_refused(sso: Sso, browser: Browser) -> None:
    callback = browser.at_provider(browser.start(), "hal")
    cookie = browser.client.cookies.get("deskbase_sso")
    assert cookie is not None
    assert browser.back(callback).status_code == 200
    browser.client.cookies.set("deskbase_sso", cookie, domain="127.0.0.1", path="/signin/sso")
    refused(browser.back(callback), 400, "already used or has expired")


def test_an_id_token_for_another_sign_in_is_refused(sso: Sso, browser: Browser) -> None:
    """The nonce the ID token carries must be the one this sign-in sent (here the stored one is changed)."""
    callback = browser.at_provider(browser.start(), "hal")
    with sso.core.db.tx() as tx:
        tx.conn.execute(update(sso_logins).values(nonce="another-sign-ins-nonce"))
    refused(browser.back(callback), 400, "nonce mismatch")


def test_an_answer_naming_another_issuer_is_refused(sso: Sso, browser: Browser) -> None:
    callback = browser.at_provider(browser.start(), "hal")
    assert "&iss=" in callback  # the provider names itself (RFC 9207)
    forged = re.sub(r"&iss=[^&]*", "&iss=https%3A%2F%2Fevil.example", callback)
    refused(browser.back(forged), 400, f"This answer did not come from {IDP_NAME}")


def test_cancelling_at_the_provider_says_so(sso: Sso, browser: Browser) -> None:
    callback = browser.at_provider(browser.start(), "hal", abort=True)
    assert "error=access_denied" in callback
    refused(browser.back(callback), 400, "You cancelled the sign-in")


def test_an_id_token_not_signed_by_the_provider_is_refused(sso: Sso) -> None:
    provider_ = sso.core.extensions[SingleSignOn].provider
    assert provider_ is not None
    kid = provider_.keys().keys[0].kid
    claims = {"iss": sso.issuer, "aud": CLIENT_ID, "sub": "hal", "nonce": "n", "iat": 1, "exp": 4102444800}
    forged = jwt.encode({"alg": "RS256", "kid": kid}, claims, RSAKey.generate_key(2048))
    with pytest.raises(SsoFailure) as caught:
        provider_.id_claims(forged, "n", None)
    assert caught.value.reason == "signature"
    # A MAC with our own client secret is no signature of the provider's either.
    mac = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(CLIENT_SECRET.encode() * 2))
    with pytest.raises(SsoFailure) as caught:
        provider_.id_claims(mac, "n", None)
    assert caught.value.reason == "signature"


# ---- settings -----------------------------------------------------------------------------------------
def test_the_client_secret_is_never_in_the_settings_repr() -> None:
    s = Settings(
        oidc_issuer="https://id.example.com",
        oidc_client_id="desk",
        oidc_client_secret="s3cret-value",
        secret_key="another-secret",
        files_s3_secret_access_key="a-third-secret",
    )
    assert not any(v in repr(s) for v in ("s3cret-value", "another-secret", "a-third-secret"))
    cfg = OidcSettings.from_settings(s)
    assert cfg is not None and cfg.client_secret == "s3cret-value" and "s3cret-value" not in repr(cfg)
    assert cfg.name == "id.example.com"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"oidc_issuer": "http://id.example.com"}, "must be an https:// URL"),
        ({"oidc_client_id": ""}, "DESKBASE_OIDC_CLIENT_ID is required"),
        ({"oidc_domain_roles": "{example.com: agent}"}, "is not JSON"),
        ({"oidc_domain_roles": '{"example.com": "agent"}'}, "must map email domains"),
        ({"oidc_scopes": "email profile"}, "must include openid"),
        (
            {"oidc_client_secret_file": "/nonexistent/oidc-secret"},
            "SECRET_FILE /nonexistent/oidc-secret cannot be read",
        ),
    ],
)
def test_a_wrong_setting_stops_the_server(overrides: dict[str, str], message: str) -> None:
    """One line at start-up (`deskbase serve` prints a DeskbaseError without a traceback)."""
    values = {"oidc_issuer": "https://id.example.com", "oidc_client_id": "desk", **overrides}
    with pytest.raises(BadSsoSetting, match=message):
        OidcSettings.from_settings(Settings(**values))  # type: ignore[arg-type]


def test_a_provider_that_cannot_be_reached_is_a_page_not_a_crash(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    server = contextmanager(serve)(
        tmp_path_factory, oidc_issuer=closed, oidc_client_id="d", oidc_name="Nowhere"
    )
    with server as people:
        r = people.browser().get("/signin/sso")
    assert r.status_code == 502
    assert "Nowhere could not be reached. Try again in a moment." in r.text
    assert "Sign in with Nowhere" in r.text
