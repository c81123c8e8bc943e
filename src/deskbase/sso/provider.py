"""The OpenID Connect relying party: the provider's discovery document and keys, the authorization request,
the code exchange and the ID token's verification.

Authorization code flow with PKCE (S256), `state` and `nonce`. The ID token's signature is checked against
the provider's JWKS (from discovery, fetched again once when a token names an unknown key), with an
asymmetric algorithm the provider announces; `iss` must be the discovered issuer, `aud` our client id, and
`exp`/`iat` current (a minute of clock skew). Claims the ID token lacks (email, email_verified, name) come from
the userinfo endpoint, whose `sub` must be the ID token's. authlib provides the claim checks, PKCE and client
authentication; the HTTP calls are ours (httpx), so every failure becomes an `SsoFailure` with a reason.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Self

import httpx
from authlib.common.urls import add_params_to_uri, url_encode
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from deskbase.core.errors import DeskbaseError
from deskbase.sso.settings import OidcSettings

#: Signature algorithms accepted on ID tokens: asymmetric only (an HS256 token would be keyed by our secret).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
DISCOVERY_TTL = 3600.0
LEEWAY = 60
TIMEOUT = 10.0


class SsoFailure(DeskbaseError):
    """A single sign-on that did not complete; `details.reason` says which check stopped it."""

    code = "sso_failed"
    status = 400

    @classmethod
    def because(cls, reason: str, message: str) -> Self:
        """The failure with the check that stopped it (the constructor keeps every error type's signature,
        which the error contract relies on)."""
        return cls(message, {"reason": reason})

    @property
    def reason(self) -> str:
        return str(self.details.get("reason", "unknown"))


class SsoRefused(SsoFailure):
    """The provider vouched for the person, and deskbase does not let them in (unverified, suspended…)."""

    code = "sso_refused"
    status = 403


class ProviderUnavailable(SsoFailure):
    """The identity provider could not be reached or answered nonsense: not the person's fault, nor ours."""

    code = "sso_provider_unavailable"
    status = 502


@dataclass(frozen=True)
class Request:
    """A sign-in about to be sent to the provider: what the callback must find again."""

    url: str
    state: str
    nonce: str
    code_verifier: str


class Provider:
    """One OpenID provider, its discovery document and keys cached in the process."""

    def __init__(self, cfg: OidcSettings, timeout: float = TIMEOUT) -> None:
        self.cfg = cfg
        self.timeout = timeout
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._fetched = 0.0
        self._keys: KeySet | None = None

    # ---- discovery ----------------------------------------------------------------------------------
    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            r = httpx.get(url, timeout=self.timeout, headers={"Accept": "application/json"})
            r.raise_for_status()
            value = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable.because(
                "provider", f"{self.cfg.name} could not be reached. Try again in a moment."
            ) from exc
        if not isinstance(value, dict):
            raise ProviderUnavailable.because(
                "provider", f"{self.cfg.name} answered with something unexpected."
            )
        return value

    def metadata(self) -> dict[str, Any]:
        """The discovery document (cached for an hour); its issuer must be the configured one."""
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._fetched < DISCOVERY_TTL:
                return self._metadata
        meta = self._get_json(self.cfg.issuer + "/.well-known/openid-configuration")
        if str(meta.get("issuer", "")).rstrip("/") != self.cfg.issuer:
            raise ProviderUnavailable.because(
                "discovery",
                f"{self.cfg.name}'s discovery document names another issuer ({meta.get('issuer')}).",
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(meta.get(key), str):
                raise ProviderUnavailable.because(
                    "discovery", f"{self.cfg.name}'s discovery document has no {key}."
                )
        with self._lock:
            self._metadata, self._fetched, self._keys = meta, time.monotonic(), None
        return meta

    def keys(self, force: bool = False) -> KeySet:
        with self._lock:
            if self._keys is not None and not force:
                return self._keys
        raw = self._get_json(self.metadata()["jwks_uri"])
        try:
            keys = KeySet.import_key_set(raw)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise ProviderUnavailable.because(
                "jwks", f"{self.cfg.name}'s signing keys could not be read."
            ) from exc
        with self._lock:
            self._keys = keys
        return keys

    # ---- the flow -----------------------------------------------------------------------------------
    def authorization_request(self, redirect_uri: str) -> Request:
        """A fresh state, nonce and PKCE verifier, and the URL that sends the browser to the provider."""
        state, nonce, verifier = (
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(64),
        )
        params = [
            ("response_type", "code"),
            ("client_id", self.cfg.client_id),
            ("redirect_uri", redirect_uri),
            ("scope", self.cfg.scopes),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", create_s256_code_challenge(verifier)),
            ("code_challenge_method", "S256"),
        ]
        url = add_params_to_uri(self.metadata()["authorization_endpoint"], params)
        return Request(url, state, nonce, verifier)

    def _auth_method(self) -> str:
        if not self.cfg.client_secret:
            return "none"
        supported = self.metadata().get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        return "client_secret_basic" if "client_secret_basic" in supported else "client_secret_post"

    def exchange(self, code: str, code_verifier: str, redirect_uri: str) -> dict[str, Any]:
        """The token endpoint's answer for the authorization code (with the PKCE verifier)."""
        url = self.metadata()["token_endpoint"]
        body = url_encode(
            [
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", code_verifier),
            ]
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        auth = ClientAuth(self.cfg.client_id, self.cfg.client_secret, self._auth_method())
        url, headers, body = auth.prepare("POST", url, headers, body)
        try:
            r = httpx.post(url, content=body, headers=headers, timeout=self.timeout)
            answer = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable.because(
                "token", f"{self.cfg.name} did not answer the sign-in. Try again in a moment."
            ) from exc
        if not isinstance(answer, dict) or "error" in answer or r.status_code >= 400:
            error = answer.get("error", r.status_code) if isinstance(answer, dict) else r.status_code
            raise SsoFailure.because(
                "token", f"{self.cfg.name} refused to complete the sign-in ({error}). Please start again."
            )
        if not isinstance(answer.get("id_token"), str):
            raise SsoFailure.because(
                "token", f"{self.cfg.name} sent no ID token. Is the openid scope allowed?"
            )
        return answer

    def id_claims(self, id_token: str, nonce: str, access_token: str | None) -> dict[str, Any]:
        """The verified claims of the ID token (signature, iss, aud, exp, iat, nonce, azp, at_hash)."""
        meta = self.metadata()
        offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in ALGORITHMS if a in offered]
        registry = JWSRegistry(algorithms=algorithms)
        try:
            try:
                token = jwt.decode(id_token, self.keys(), algorithms=algorithms, registry=registry)
            except InvalidKeyIdError:  # the provider rotated its keys since we fetched them
                token = jwt.decode(id_token, self.keys(force=True), algorithms=algorithms, registry=registry)
            claims = CodeIDToken(
                token.claims,
                token.header,
                {
                    "iss": {"essential": True, "value": meta["issuer"]},
                    "aud": {"essential": True, "value": self.cfg.client_id},
                    "exp": {"essential": True},
                    "sub": {"essential": True},
                },
                {"nonce": nonce, "client_id": self.cfg.client_id, "access_token": access_token},
            )
            claims.validate(now=int(time.time()), leeway=LEEWAY)
        except (InvalidClaimError, MissingClaimError) as exc:
            claim = getattr(exc, "claim", "")
            if claim == "nonce":
                raise SsoFailure.because(
                    "nonce",
                    "The sign-in answer was not for this sign-in (nonce mismatch). Please start again.",
                ) from exc
            raise SsoFailure.because(
                "claims", f"The ID token's {claim or 'claims'} did not check out."
            ) from exc
        except ExpiredTokenError as exc:
            raise SsoFailure.because("expired", "The ID token has expired. Please start again.") from exc
        except BadSignatureError as exc:
            raise SsoFailure.because("signature", "The ID token's signature did not verify.") from exc
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise SsoFailure.because("signature", "The ID token could not be verified.") from exc
        return dict(claims)

    def userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        """The userinfo endpoint's claims, only when they are about the ID token's subject."""
        endpoint = self.metadata().get("userinfo_endpoint")
        if not isinstance(endpoint, str):
            return {}
        try:
            r = httpx.get(
                endpoint,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                timeout=self.timeout,
            )
            r.raise_for_status()
            info = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable.because(
                "userinfo", f"{self.cfg.name} did not say who you are. Try again in a moment."
            ) from exc
        if not isinstance(info, dict) or info.get("sub") != subject:
            raise SsoFailure.because("userinfo", f"{self.cfg.name}'s userinfo is about someone else.")
        return info

    def logout_url(self, id_token: str, post_logout_redirect_uri: str) -> str | None:
        """Where to send the browser to sign out at the provider too (OpenID Connect RP-Initiated Logout
        1.0), or None when its discovery document has no `end_session_endpoint` or it cannot be reached:
        the deskbase session has ended either way."""
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except ProviderUnavailable:
            return None
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
            return None
        params = [
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", post_logout_redirect_uri),
            ("client_id", self.cfg.client_id),
        ]
        return add_params_to_uri(endpoint, params)

    def identity(
        self, code: str, nonce: str, code_verifier: str, redirect_uri: str
    ) -> tuple[dict[str, Any], str]:
        """The person the provider signed in: the ID token's claims, completed from userinfo, and the raw ID
        token (the `id_token_hint` of a later logout)."""
        tokens = self.exchange(code, code_verifier, redirect_uri)
        access = tokens.get("access_token") if isinstance(tokens.get("access_token"), str) else None
        claims = self.id_claims(tokens["id_token"], nonce, access)
        if access and any(k not in claims for k in ("email", "email_verified", "name")):
            info = self.userinfo(access, claims["sub"])
            claims = {**{k: v for k, v in info.items() if k not in claims}, **claims}
        return claims, tokens["id_token"]
