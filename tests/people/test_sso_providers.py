"""More than one OpenID provider on a server (`oidc_providers`), against two real providers
(node-oidc-provider, started here): a button each, each provider's own domain roles, one person linked to
both, an answer from the other provider refused (mix-up), signing out at the right one, and the settings
that stop the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from deskbase.config import Settings
from deskbase.core.context import SYSTEM
from deskbase.core.sso_tables import user_identities
from deskbase.server import build
from deskbase.sso.settings import BadSsoSetting, providers_from_settings
from tests.people.oidc import CLIENT_ID, CLIENT_SECRET, Browser, Sso, provider, serving_on
from tests.serverproc import free_port

WS = "acme"
ALPHA = {
    "al": {"email": "al@alpha.example", "email_verified": True, "name": "Al"},
    "bea": {"email": "bea@beta.example", "email_verified": True, "name": "Bea at Alpha"},
}
BETA = {
    "bea": {"email": "bea@beta.example", "email_verified": True, "name": "Bea"},
    "cy": {"email": "cy@beta.example", "email_verified": True, "name": "Cy"},
}


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sso, str]]:
    """A deskbase server with two providers: Alpha (the oidc_* settings) and Beta (oidc_providers); yields
    it (its `issuer` is Alpha's) and Beta's issuer."""
    data = tmp_path_factory.mktemp("sso-two")
    port = free_port()
    callback = f"http://127.0.0.1:{port}/signin/sso/callback"
    (data / "a").mkdir()
    (data / "b").mkdir()
    with provider(data / "a", callback, ALPHA) as alpha, provider(data / "b", callback, BETA) as beta:
        beta_cfg = {
            "id": "beta",
            "issuer": beta,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "name": "Beta ID",
            "domain_roles": {"beta.example": {WS: "light_agent"}},
        }
        settings = Settings(
            data_dir=str(data),
            replicate=False,
            sla_scheduler=False,
            oidc_issuer=alpha,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
            oidc_name="Alpha ID",
            oidc_domain_roles=json.dumps({"alpha.example": {WS: "agent"}}),
            oidc_providers=json.dumps([beta_cfg]),
        )
        core, app = build(settings)
        core.workspaces.put(WS, "Acme Support", None, SYSTEM)
        with serving_on(app, port) as url:
            yield Sso(url, alpha, core, app), beta


def identities(sso: Sso, email: str) -> list[tuple[str, str]]:
    with sso.core.db.read() as conn:
        uid = sso.core.people.by_email(conn, email).id
        rows = conn.execute(select(user_identities).where(user_identities.c.user_id == uid)).all()
    return sorted((r.issuer, r.subject) for r in rows)


def role(sso: Sso, email: str) -> str | None:
    with sso.core.db.read() as conn:
        row = sso.core.members.membership(conn, WS, sso.core.people.by_email(conn, email).id)
    return row.role if row is not None else None


def test_the_sign_in_page_has_a_button_for_each_provider(two: tuple[Sso, str]) -> None:
    sso, _ = two
    b = sso.browser()
    page = b.get("/signin?next=/w/acme/queue").text
    assert '<a class="button sso" href="/signin/sso?next=/w/acme/queue">Sign in with Alpha ID</a>' in page
    assert 'href="/signin/sso?provider=beta&amp;next=/w/acme/queue">Sign in with Beta ID</a>' in page
    assert b.get("/signin/sso?provider=gamma").status_code == 404
    b.close()


def test_each_provider_signs_in_with_its_own_domain_roles_and_links_one_person_to_both(
    two: tuple[Sso, str],
) -> None:
    sso, beta = two
    b = sso.browser()
    assert b.sign_in("cy", provider="beta", issuer=beta).status_code == 200
    assert role(sso, "cy@beta.example") == "light_agent"  # Beta's mapping, not Alpha's
    assert identities(sso, "cy@beta.example") == [(beta, "cy")]
    b.close()
    b = sso.browser()
    assert b.sign_in("al").status_code == 200
    assert role(sso, "al@alpha.example") == "agent"
    b.close()
    # Bea signs in with Beta (made by its mapping), then with Alpha under the same verified email: one user
    b = sso.browser()
    assert b.sign_in("bea", provider="beta", issuer=beta).status_code == 200
    b.close()
    b = sso.browser()
    assert b.sign_in("bea").status_code == 200
    assert identities(sso, "bea@beta.example") == sorted([(beta, "bea"), (sso.issuer, "bea")])
    b.close()


def test_an_answer_from_the_other_provider_is_refused(two: tuple[Sso, str]) -> None:
    sso, beta = two
    b = sso.browser()
    callback = b.at_provider(b.start(provider="beta", issuer=beta), "cy")
    assert f"iss={beta.replace(':', '%3A').replace('/', '%2F')}" in callback
    mixed = callback.replace(
        beta.replace(":", "%3A").replace("/", "%2F"), sso.issuer.replace(":", "%3A").replace("/", "%2F")
    )
    r = b.back(mixed)
    assert r.status_code == 400 and "This answer did not come from Beta ID" in r.text
    b.close()


def test_signing_out_goes_to_the_provider_that_signed_the_person_in(two: tuple[Sso, str]) -> None:
    sso, beta = two
    b: Browser = sso.browser()
    assert b.sign_in("cy", provider="beta", issuer=beta).status_code == 200
    csrf = b.client.cookies.get("deskbase_csrf")
    out = b.client.post(sso.url + "/signout", data={"csrf": csrf or ""})
    assert out.headers["refresh"].startswith(f"0; url={beta}/session/end?")
    b.close()


@pytest.mark.parametrize(
    ("providers", "message"),
    [
        ('{"id": "x"}', "must be a JSON list"),
        ("[{]", "is not JSON"),
        ('[{"issuer": "https://b.example", "client_id": "d"}]', r"PROVIDERS\[0\] needs an id"),
        ('[{"id": "b", "issuer": "http://b.example", "client_id": "d"}]', "issuer must be an https:// URL"),
        ('[{"id": "b", "issuer": "https://b.example"}]', "needs a client_id"),
        (
            '[{"id": "b", "issuer": "https://b.example", "client_id": "d", "secret": "x"}]',
            "unknown field 'secret'",
        ),
        ('[{"id": "b", "issuer": "https://b.example", "client_id": "d", "logout": "no"}]', "true or false"),
        (
            '[{"id": "b", "issuer": "https://b.example", "client_id": "d", "domain_roles": []}]',
            "must map email",
        ),
        ('[{"id": "sso", "issuer": "https://b.example", "client_id": "d"}]', "have the id sso"),
        ('[{"id": "b", "issuer": "https://id.example.com/", "client_id": "d"}]', "have the issuer"),
    ],
)
def test_a_wrong_provider_list_stops_the_server(providers: str, message: str) -> None:
    values: dict[str, Any] = {
        "oidc_issuer": "https://id.example.com",
        "oidc_client_id": "desk",
        "oidc_providers": providers,
    }
    with pytest.raises(BadSsoSetting, match=message):
        providers_from_settings(Settings(**values))


def test_a_provider_list_alone_is_enough_and_keeps_its_secret_out_of_repr() -> None:
    s = Settings(
        oidc_providers=json.dumps(
            [
                {
                    "id": "okta",
                    "issuer": "https://acme.okta.com",
                    "client_id": "d",
                    "client_secret": "s3cret-value",
                }
            ]
        )
    )
    assert "s3cret-value" not in repr(s)
    (cfg,) = providers_from_settings(s)
    assert (cfg.id, cfg.name, cfg.scopes, cfg.logout) == (
        "okta",
        "acme.okta.com",
        "openid email profile",
        True,
    )
    assert "s3cret-value" not in repr(cfg)
