"""Single sign-on with the server's OpenID provider: which user a provider identity is, and what it may join.

A sign-in starts with a row (`sso_logins`, keyed by the state's SHA-256, ten minutes) and ends when the
callback deletes it, so each callback works once. The person is found by the identity linked earlier (`iss`,
`sub`), else by a verified email (the identity is linked to that user), else created when their email domain
is mapped and `oidc_create_users` is on. The domain mapping is a floor: it adds a missing membership and
raises a lower role to the mapped one when the mapped role's grants cover the current role's; it never lowers,
never swaps a role for one that is not wider, never removes. Suspended users are refused, as is anyone who
ends up with no membership (unless a server admin). All of it happens in one transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from deskbase.core.db import Tx
from deskbase.core.errors import Conflict, NotFound, ValidationFailed, WriteConflict
from deskbase.core.grants import uncovered
from deskbase.core.people_tables import memberships
from deskbase.core.secrets import SecretBox
from deskbase.core.sso_tables import sso_logins, user_identities
from deskbase.core.user_access import ACTIVE
from deskbase.core.users import check_field, normal_email
from deskbase.sso.provider import Provider, SsoFailure, SsoRefused
from deskbase.sso.settings import OidcSettings, providers_from_settings

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

LOGIN_TTL = timedelta(minutes=10)
audit_log = logging.getLogger("deskbase.audit")
log = logging.getLogger(__name__)

ERRORS_FROM_PROVIDER = {
    "access_denied": "You cancelled the sign-in, or {name} did not allow it.",
    "login_required": "{name} needs you to sign in there first.",
    "consent_required": "{name} needs your consent for deskbase first.",
}


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def verified(claims: dict[str, Any]) -> bool:
    """`email_verified` as providers send it: a boolean, or (AWS Cognito) the string "true"."""
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.lower() == "true")


_SIGN_IN_TRIES = 5


class SingleSignOn:
    def __init__(self, app: Deskbase) -> None:
        self.app = app
        self.configs = providers_from_settings(app.settings)
        self.providers = {c.id: Provider(c) for c in self.configs}
        #: the first provider (the `oidc_*` settings' when set): `/signin/sso` without `provider=`
        self.cfg = self.configs[0] if self.configs else None
        self.provider = self.providers[self.cfg.id] if self.cfg is not None else None
        self.box = SecretBox.for_settings(app.settings.secret_key, app.settings.data_path)

    @property
    def name(self) -> str | None:
        """The first provider's name, or None when single sign-on is off."""
        return self.cfg.name if self.cfg is not None else None

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """`(id, name)` of each provider, in the order of the sign-in page's buttons."""
        return [(c.id, c.name) for c in self.configs]

    def _on(self, provider_id: str | None = None) -> tuple[OidcSettings, Provider]:
        """A provider by id (the first without one)."""
        if not self.configs:
            raise NotFound("single sign-on is not configured on this server", {"sso": None})
        cfg = next((c for c in self.configs if c.id == provider_id), None) if provider_id else self.configs[0]
        if cfg is None:
            raise NotFound(f"no identity provider {provider_id!r} on this server", {"provider": provider_id})
        return cfg, self.providers[cfg.id]

    def _by_issuer(self, issuer: str) -> OidcSettings | None:
        return next((c for c in self.configs if c.issuer == issuer.rstrip("/")), None)

    # ---- the two legs -------------------------------------------------------------------------------
    def begin(self, redirect_uri: str, next_path: str, provider_id: str | None = None) -> tuple[str, str]:
        """The provider URL to send the browser to, and the state to bind to the browser (a cookie). The
        stored sign-in names the provider, so the callback (one for all) knows whose answer to expect."""
        cfg, provider = self._on(provider_id)
        req = provider.authorization_request(redirect_uri)
        now = self.app.clock.now()
        with self.app.db.tx() as tx:
            tx.conn.execute(delete(sso_logins).where(sso_logins.c.expires_at < now))
            tx.conn.execute(
                insert(sso_logins).values(
                    state_hash=_hash(req.state),
                    nonce=req.nonce,
                    code_verifier=req.code_verifier,
                    next_path=next_path,
                    provider=cfg.id,
                    created_at=now,
                    expires_at=now + LOGIN_TTL,
                )
            )
        return req.url, req.state

    def finish(
        self, params: dict[str, str], browser_state: str | None, redirect_uri: str
    ) -> tuple[Any, str, str | None]:
        """The callback: the user to open a session for, where they were going, and what signing out at the
        provider will need (sealed; None when `oidc_logout` is off). Raises SsoFailure."""
        self._on()
        state = params.get("state") or ""
        if not state or not browser_state or not hmac.compare_digest(state, browser_state):
            raise SsoFailure.because(
                "state",
                "This sign-in did not start in this browser, or it took too long. Please start again.",
            )
        login = self._take(state)
        try:
            cfg, provider = self._on(login.provider)
        except NotFound as exc:
            raise SsoFailure.because(
                "provider", "This sign-in's provider is gone. Please start again."
            ) from exc
        issuer = provider.metadata()["issuer"]
        if params.get("iss") not in (None, issuer):  # RFC 9207: an answer from another provider (mix-up)
            raise SsoFailure.because(
                "issuer", f"This answer did not come from {cfg.name}. Please start again."
            )
        error = params.get("error")
        if error:
            message = ERRORS_FROM_PROVIDER.get(error, "{name} could not sign you in ({error}).")
            raise SsoFailure.because(
                "denied" if error == "access_denied" else "provider",
                message.format(name=cfg.name, error=error[:80]),
            )
        code = params.get("code")
        if not code:
            raise SsoFailure.because("code", f"{cfg.name} sent no authorization code. Please start again.")
        claims, id_token = provider.identity(code, login.nonce, login.code_verifier, redirect_uri)
        logout = self.box.seal(json.dumps({"iss": issuer, "id_token": id_token})) if cfg.logout else None
        return self.account(issuer, claims), login.next_path, logout

    def logout_url(self, sealed: str | None, post_logout_redirect_uri: str) -> str | None:
        """The provider's end-session URL for a session that single sign-on opened (its sealed ID token as
        `id_token_hint`), or None: not such a session, `oidc_logout` off, another provider configured since,
        or a provider without an end_session_endpoint."""
        if not sealed:
            return None
        try:
            saved = json.loads(self.box.open(sealed))
        except ValueError:  # sealed under another server key
            return None
        cfg = self._by_issuer(str(saved.get("iss", "")))
        if cfg is None or not cfg.logout:
            return None
        return self.providers[cfg.id].logout_url(str(saved["id_token"]), post_logout_redirect_uri)

    def _take(self, state: str) -> Any:
        """The sign-in this state started, deleted on the way: a second callback with it finds nothing."""
        with self.app.db.tx() as tx:
            row = tx.conn.execute(select(sso_logins).where(sso_logins.c.state_hash == _hash(state))).first()
            gone = tx.conn.execute(delete(sso_logins).where(sso_logins.c.state_hash == _hash(state)))
        if row is None or gone.rowcount != 1:
            raise SsoFailure.because(
                "replayed", "This sign-in link was already used or has expired. Please start again."
            )
        if row.expires_at < self.app.clock.now():
            raise SsoFailure.because("expired", "This sign-in took too long. Please start again.")
        return row

    # ---- who it is ----------------------------------------------------------------------------------
    def account(self, issuer: str, claims: dict[str, Any]) -> Any:
        """The user the verified claims are, linked, created and given their domain's roles as the settings
        say (one transaction: a refusal leaves nothing behind). Two first sign-ins of one person at once (two
        tabs) collide on the new link, user or membership: the loser tries again and finds what the winner
        made. Each collision means another sign-in committed, so a few tries settle any number of tabs. Where
        transactions run at once (PostgreSQL), a tab can also see no identity, then the user and identity
        another tab committed meanwhile: that is a collision too, never "linked elsewhere"."""
        for _ in range(_SIGN_IN_TRIES - 1):
            try:
                return self._account(issuer, claims)
            except (IntegrityError, Conflict, WriteConflict):
                continue
        return self._account(issuer, claims)

    def _account(self, issuer: str, claims: dict[str, Any]) -> Any:
        cfg = self._by_issuer(issuer) or self._on()[0]
        subject = str(claims["sub"])
        try:
            email: str | None = normal_email(claims.get("email"))
        except ValidationFailed:
            email = None
        trusted = email is not None and (verified(claims) or not cfg.require_verified_email)
        domain = email.rsplit("@", 1)[1] if email and trusted else None
        mapped = cfg.domain_roles.get(domain, {}) if domain else {}
        now = self.app.clock.now()
        with self.app.db.tx() as tx:
            link = tx.conn.execute(
                select(user_identities).where(
                    user_identities.c.issuer == issuer, user_identities.c.subject == subject
                )
            ).first()
            user = self.app.people.row(tx.conn, link.user_id) if link is not None else None
            if user is None:
                user = self._link(tx, cfg, issuer, subject, email, trusted, bool(mapped), claims)
            else:
                tx.conn.execute(
                    update(user_identities)
                    .where(user_identities.c.issuer == issuer, user_identities.c.subject == subject)
                    .values(last_used_at=now)
                )
            if user.status != ACTIVE:
                raise SsoRefused.because("suspended", "This account is suspended; ask an administrator.")
            self._apply(tx, user.id, mapped)
            if not user.server_admin and not self._has_membership(tx, user.id):
                raise SsoRefused.because(
                    "no_access",
                    f"{user.email} has no workspace on this server yet; ask an administrator to invite you.",
                )
            user = self.app.people.row(tx.conn, user.id)
        audit_log.info("user %s signed in with single sign-on (%s)", user.id, issuer)
        return user

    def _link(
        self,
        tx: Tx,
        cfg: OidcSettings,
        issuer: str,
        subject: str,
        email: str | None,
        trusted: bool,
        mapped: bool,
        claims: dict[str, Any],
    ) -> Any:
        """An identity seen for the first time: link it to the user with its verified email, or create one."""
        if email is None:
            raise SsoRefused.because("no_email", f"{cfg.name} did not tell deskbase your email address.")
        if not trusted:
            raise SsoRefused.because(
                "unverified",
                f"{cfg.name} has not verified your email address ({email}); verify it there, then sign in again.",
            )
        user = self.app.people.by_email(tx.conn, email)
        if user is not None:
            other = tx.conn.execute(
                select(user_identities.c.subject).where(
                    user_identities.c.issuer == issuer, user_identities.c.user_id == user.id
                )
            ).first()
            if other is not None and other.subject == subject:
                # This very identity, linked by another tab's first sign-in since this transaction looked
                raise Conflict("this identity was linked meanwhile", {"subject": subject})
            if other is not None:
                raise SsoRefused.because(
                    "linked_elsewhere",
                    f"{email} is linked to another {cfg.name} account; ask an administrator.",
                )
        elif cfg.create_users and mapped:
            user = self.app.people.insert(tx, self._new_user(email, claims))
            audit_log.info("user %s created by single sign-on (%s)", user.id, issuer)
        else:
            raise SsoRefused.because(
                "no_access", f"{email} has no account on this server; ask an administrator to invite you."
            )
        now = self.app.clock.now()
        tx.conn.execute(
            insert(user_identities).values(
                issuer=issuer, subject=subject, user_id=user.id, email=email, created_at=now, last_used_at=now
            )
        )
        audit_log.info("user %s linked to %s identity %s", user.id, issuer, subject)
        return user

    def _new_user(self, email: str, claims: dict[str, Any]) -> Any:
        """The new user's profile from the claims, keeping only those that pass the profile checks."""
        fields: dict[str, Any] = {"email": email}
        for name, claim in (("name", "name"), ("time_zone", "zoneinfo"), ("locale", "locale")):
            try:
                fields[name] = check_field(name, claims.get(claim))
            except ValidationFailed:
                continue
        return self.app.people.prepare(fields)

    def _apply(self, tx: Tx, user_id: str, mapped: dict[str, str]) -> None:
        """The domain's roles as a floor: add or raise, never lower (a workspace or role that does not exist
        is skipped, and the server log says so)."""
        for ws, role in sorted(mapped.items()):
            try:
                self.app.workspaces.require(tx.conn, ws)
                role = self.app.roles.require(tx.conn, ws, role)
            except (NotFound, ValidationFailed) as exc:
                log.warning(
                    "oidc_domain_roles: skipping %s as %s: %s", ws, role, getattr(exc, "message", exc)
                )
                continue
            old = self.app.members.membership(tx.conn, ws, user_id)
            if old is not None:
                if old.role == role:
                    continue
                before = self.app.roles.grants(tx.conn, ws, old.role)
                after = self.app.roles.grants(tx.conn, ws, role)
                if uncovered(after, before) is not None or uncovered(before, after) is None:
                    continue  # the mapped role is not wider than the one they have
            self.app.members.set(tx, ws, user_id, role)
            audit_log.info(
                "member %s of %s: role %s, by the single sign-on domain mapping", user_id, ws, role
            )

    @staticmethod
    def _has_membership(tx: Tx, user_id: str) -> bool:
        return (
            tx.conn.execute(select(memberships.c.user_id).where(memberships.c.user_id == user_id)).first()
            is not None
        )


def install(core: Deskbase) -> SingleSignOn:
    """Single sign-on as a service of the core (`core.extensions.get(SingleSignOn)`), configured or not:
    the console asks it whether to show the button. Bad settings stop here, at start-up."""
    service = SingleSignOn(core)
    core.extensions[SingleSignOn] = service
    return service
