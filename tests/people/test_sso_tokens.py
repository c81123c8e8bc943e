"""The ID token checks one by one, against a provider whose keys the test holds: a small HTTP server (a thread)
publishing a discovery document and a JWKS, so each claim can be made wrong on purpose. The whole flow
against a real provider is test_sso.py."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from deskbase.config import Settings
from deskbase.sso.provider import Provider, SsoFailure
from deskbase.sso.settings import OidcSettings

CLIENT = "desk"


class Issuer:
    """The provider's published side: its discovery document and its current keys (rotated by the test)."""

    def __init__(self) -> None:
        self.keys: list[Any] = [RSAKey.generate_key(2048, parameters={"kid": "k1"})]
        self.jwks_fetches = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body: dict[str, Any] = {
                        "issuer": issuer.url,
                        "authorization_endpoint": issuer.url + "/auth",
                        "token_endpoint": issuer.url + "/token",
                        "jwks_uri": issuer.url + "/jwks",
                        "id_token_signing_alg_values_supported": ["RS256", "ES256", "HS256", "none"],
                    }
                elif self.path == "/jwks":
                    issuer.jwks_fetches += 1
                    body = dict(KeySet(issuer.keys).as_dict(private=False))
                else:
                    self.send_error(404)
                    return
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        out = {"iss": self.url, "aud": CLIENT, "sub": "s-1", "nonce": "n-1", "iat": now, "exp": now + 300}
        out.update(changes)
        return {k: v for k, v in out.items() if v is not None}

    def sign(self, claims: dict[str, Any], key: Any = None, alg: str = "RS256") -> str:
        key = key or self.keys[0]
        return jwt.encode({"alg": alg, "kid": key.kid}, claims, key)


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    i = Issuer()
    thread = threading.Thread(target=i.server.serve_forever, daemon=True)
    thread.start()
    yield i
    i.server.shutdown()
    i.server.server_close()


@pytest.fixture
def provider(issuer: Issuer) -> Provider:
    cfg = OidcSettings.from_settings(Settings(oidc_issuer=issuer.url, oidc_client_id=CLIENT))
    assert cfg is not None
    return Provider(cfg)


def refused(
    provider: Provider, token: str, reason: str, nonce: str = "n-1", access: str | None = None
) -> None:
    with pytest.raises(SsoFailure) as caught:
        provider.id_claims(token, nonce, access)
    assert caught.value.reason == reason, caught.value.message


def test_a_good_token_passes(issuer: Issuer, provider: Provider) -> None:
    assert provider.id_claims(issuer.sign(issuer.claims()), "n-1", None)["sub"] == "s-1"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"aud": "someone-else"}, "claims"),
        ({"aud": ["someone-else", "another"]}, "claims"),
        ({"iss": "https://evil.example"}, "claims"),
        ({"exp": int(time.time()) - 600}, "expired"),
        ({"exp": None}, "claims"),
        ({"sub": None}, "claims"),
        ({"nonce": "n-2"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"azp": "someone-else"}, "claims"),
    ],
    ids=["aud", "aud-list", "iss", "expired", "no-exp", "no-sub", "nonce", "no-nonce", "azp"],
)
def test_each_claim_is_checked(
    issuer: Issuer, provider: Provider, changes: dict[str, Any], reason: str
) -> None:
    refused(provider, issuer.sign(issuer.claims(**changes)), reason)


def test_an_audience_list_with_us_and_azp_passes(issuer: Issuer, provider: Provider) -> None:
    token = issuer.sign(issuer.claims(aud=[CLIENT, "account"], azp=CLIENT))
    assert provider.id_claims(token, "n-1", None)["aud"] == [CLIENT, "account"]


def test_the_access_token_hash_must_match(issuer: Issuer, provider: Provider) -> None:
    token = issuer.sign(issuer.claims(at_hash="AAAAAAAAAAAAAAAAAAAAAA"))
    refused(provider, token, "claims", access="the-access-token")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_only_the_providers_keys_sign(issuer: Issuer, provider: Provider) -> None:
    """Another key under the provider's kid, and an unsigned token (`alg: none`, which the discovery
    document even offers), are refused."""
    claims = issuer.claims()
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    refused(provider, issuer.sign(claims, stranger), "signature")
    unsigned = f"{b64(json.dumps({'alg': 'none'}).encode())}.{b64(json.dumps(claims).encode())}."
    refused(provider, unsigned, "signature")


def test_a_rotated_key_is_fetched_once_more(issuer: Issuer, provider: Provider) -> None:
    assert provider.id_claims(issuer.sign(issuer.claims()), "n-1", None)
    assert issuer.jwks_fetches == 1
    issuer.keys = [ECKey.generate_key("P-256", parameters={"kid": "k2"})]
    token = issuer.sign(issuer.claims(), alg="ES256")
    assert provider.id_claims(token, "n-1", None)["sub"] == "s-1"
    assert issuer.jwks_fetches == 2
    assert provider.id_claims(token, "n-1", None)  # cached again
    assert issuer.jwks_fetches == 2
