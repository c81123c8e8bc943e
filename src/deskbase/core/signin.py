"""Password sign-in and password changes: checking a password under the throttle, one-time reset links.

A failed sign-in says only "wrong email or password", whether the account exists, has no password, or the
password is wrong, and an unknown account costs the same argon2 work as a known one. Only after the right
password does the answer say that an account is suspended. For an account with a second factor
(second_factor.py) the right password does not clear the account's failure count: only the right code does,
so re-entering a known password never buys fresh guesses at the code. Reset links (`dsr_` + 256 random bits,
SHA-256 at rest, one use) are made by a server admin (`deskbase users reset-password`, 24 hours) or mailed on
request (mail/password_reset.py, 1 hour; requests throttled per address and per account); using one spends
the user's other links and ends the user's console sessions.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.errors import Forbidden, NotFound, RateLimited, Unauthorized
from deskbase.core.passwords import Hasher
from deskbase.core.people_tables import password_resets as pr
from deskbase.core.people_tables import users
from deskbase.core.signin_throttle import Throttle
from deskbase.core.user_access import ACTIVE

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

GENERIC = "wrong email or password"
RESET_PREFIX = "dsr_"
RESET_TTL = timedelta(hours=24)
#: A link sent by email on request: shorter, since it sits in a mailbox (and in the outbox until sent).
EMAILED_RESET_TTL = timedelta(hours=1)
#: Reset emails a typed address, and a client address, may ask for before each request must wait.
RESET_FREE_ACCOUNT = 3
RESET_FREE_ADDRESS = 20
audit_log = logging.getLogger("deskbase.audit")


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class SignIn:
    def __init__(self, app: Deskbase) -> None:
        s = app.settings
        self.app = app
        self.hasher = Hasher(time_cost=s.password_hash_time_cost, memory_kib=s.password_hash_memory_kib)
        self.throttle = Throttle(app.db, app.clock, s)

    def password(self, email: str, password: str, address: str | None) -> Any:
        """The active user with this email and password, or Unauthorized (generic) / RateLimited."""
        with self.app.db.read() as conn:
            user = self.app.people.by_email(conn, email) if email else None
        # An unknown account takes the same throttled, hashed path as a wrong password (a dummy hash).
        stored = user.password_hash if user is not None else None
        second = user is not None and self.app.factors.enabled(user.id)
        if not self._checked(email, stored, password, address, clear=not second):
            raise Unauthorized(GENERIC)
        assert user is not None
        if user.status != ACTIVE:
            raise Unauthorized("this account is suspended; ask an administrator")
        return user

    def check_password(self, user: Any, password: str, address: str | None) -> bool:
        """An account's password under the throttle (accepting an invitation as an existing user)."""
        ok = self._checked(user.email, user.password_hash, password, address)
        if ok and user.status != ACTIVE:
            raise Unauthorized("this account is suspended; ask an administrator")
        return ok

    def _checked(
        self, email: str, stored: str | None, password: str, address: str | None, clear: bool = True
    ) -> bool:
        keys = self.throttle.keys(email, address)
        self.throttle.check(keys)
        if not self.hasher.verify(stored, password or ""):
            self.throttle.failed(keys)
            return False
        if clear:
            self.throttle.succeeded(email)
        if stored is not None and self.hasher.needs_rehash(stored):
            self._rehash(email, stored, password)
        return True

    def _rehash(self, email: str, stored: str, password: str) -> None:
        """The cost settings changed since this hash was made: store it again with the current ones."""
        fresh = self.hasher.hash(password)
        with self.app.db.tx() as tx:
            tx.conn.execute(
                update(users)
                .where(users.c.email == email.strip().lower(), users.c.password_hash == stored)
                .values(password_hash=fresh)
            )

    # ---- changing a password ------------------------------------------------------------------------
    def change(self, actor: Actor, current: str, new: str, address: str | None) -> None:
        """A user changes their own password, proving the current one (throttled like a sign-in)."""
        if actor.user_id is None:
            raise NotFound("this token belongs to no user (it is a service token)", {"user": None})
        with self.app.db.read() as conn:
            user = self.app.people.row(conn, actor.user_id)
        if not self.check_password(user, current, address):
            raise Unauthorized("the current password is wrong")
        hashed = self.app.people.hash_password(new, user.email, user.name)
        with self.app.db.tx() as tx:
            self.app.people.set_password_hash(tx, user.id, hashed)
        audit_log.info("user %s changed their password", user.id)

    def set(self, actor: Actor, user_id: str, password: str) -> None:
        """A server admin sets a user's password (`deskbase users reset-password --password-stdin`)."""
        self._admin(actor)
        with self.app.db.read() as conn:
            user = self.app.people.row(conn, user_id)
        hashed = self.app.people.hash_password(password, user.email, user.name)
        with self.app.db.tx() as tx:
            self.app.people.set_password_hash(tx, user_id, hashed)
        self.throttle.succeeded(user.email)
        audit_log.info("password of user %s set by %s", user_id, actor.id)

    @staticmethod
    def _admin(actor: Actor) -> None:
        if not actor.is_admin:
            raise Forbidden("this needs a server admin", {"permission": "admin"})

    def reset_link(self, actor: Actor, user_id: str) -> dict[str, Any]:
        """A one-time link to set a new password; its secret is returned once and stored as a hash."""
        self._admin(actor)
        with self.app.db.tx() as tx:
            self.app.people.row(tx.conn, user_id)
            raw, expires = self.issue_reset(tx, user_id, RESET_TTL)
        audit_log.info("password reset link for user %s made by %s", user_id, actor.id)
        return {"user": user_id, "token": raw, "path": f"/reset/{raw}", "expires_at": iso(expires)}

    def issue_reset(self, tx: Tx, user_id: str, ttl: timedelta) -> tuple[str, datetime]:
        """Inside `tx`: a new reset link's secret (stored as its hash) and when it expires."""
        raw = RESET_PREFIX + secrets.token_urlsafe(32)
        now = self.app.clock.now()
        tx.conn.execute(
            insert(pr).values(token_hash=_hash(raw), user_id=user_id, created_at=now, expires_at=now + ttl)
        )
        return raw, now + ttl

    def reset_requested(self, email: str, address: str | None) -> None:
        """Count a "forgot password" request against the typed email and the client's address; RateLimited
        while either waits. Counted the same whether the account exists or not."""
        keys = self.throttle.keys(
            email, address, prefix="reset:", free=(RESET_FREE_ACCOUNT, RESET_FREE_ADDRESS)
        )
        try:
            self.throttle.check(keys)
        except RateLimited as exc:
            wait = exc.details["retry_after"]
            raise RateLimited(
                f"too many password reset requests; try again in {wait} s", {"retry_after": wait}
            ) from exc
        self.throttle.failed(keys)

    def _reset_row(self, conn: Any, raw: str) -> Any:
        row = conn.execute(select(pr).where(pr.c.token_hash == _hash(raw))).first()
        if row is None or row.used_at is not None or row.expires_at <= self.app.clock.now():
            raise NotFound("this password reset link is not valid (used or expired)", {"reset": None})
        return row

    def reset_user(self, raw: str) -> Any:
        """The user a valid reset link is for (the page shows whose password it sets)."""
        with self.app.db.read() as conn:
            return self.app.people.row(conn, self._reset_row(conn, raw).user_id)

    def reset(self, raw: str, password: str) -> Any:
        """Use a reset link: the new password is set, the link is spent, the user's sessions end."""
        user = self.reset_user(raw)
        hashed = self.app.people.hash_password(password, user.email, user.name)
        with self.app.db.tx() as tx:
            self._reset_row(tx.conn, raw)  # still unused and unexpired, now inside the write
            tx.conn.execute(  # this link and any other of the user's: one reset spends them all
                update(pr)
                .where(pr.c.user_id == user.id, pr.c.used_at.is_(None))
                .values(used_at=self.app.clock.now())
            )
            self.app.people.set_password_hash(tx, user.id, hashed)
            user = self.app.people.row(tx.conn, user.id)
        self.throttle.succeeded(user.email)
        audit_log.info("user %s set a password with a reset link", user.id)
        return user
