"""Browser sessions of the web console, opened with an API token or by a user's password sign-in.

A session is a random 256-bit id. The store keeps only its SHA-256, mapped to the id of the token it was
opened with (never the raw token) or to the user who signed in, so sessions survive restarts and are shared
by every process on the store.
Idle sessions end after `IDLE`, all after `MAX_AGE`; last-seen moves at most once every `TOUCH_EVERY`, so a
session's reads stay reads. Whoever holds a session re-checks its token by id on every use.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update

from deskbase.core import tables as t
from deskbase.core.clock import Clock
from deskbase.core.db import Database

IDLE = timedelta(hours=12)
MAX_AGE = timedelta(days=7)
TOUCH_EVERY = timedelta(minutes=1)


@dataclass
class Session:
    id: str
    token_id: str | None  #: the token it was opened with, or None for a user's password sign-in
    created: datetime
    seen: datetime
    user_id: str | None = None
    #: opened by single sign-on: the provider's issuer and ID token, sealed (SingleSignOn.logout_url opens it)
    sso_logout: str | None = None


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class Sessions:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def open(
        self, token_id: str | None, user_id: str | None = None, sso_logout: str | None = None
    ) -> Session:
        """A new session for the token (or the user). Ended sessions are pruned here, so the table holds live
        ones only (plus those that ended since the last sign-in). `sso_logout` is already sealed."""
        now = self.clock.now()
        sid = secrets.token_urlsafe(32)
        cs = t.console_sessions
        with self.db.tx() as tx:
            tx.conn.execute(delete(cs).where(or_(cs.c.seen_at < now - IDLE, cs.c.created_at < now - MAX_AGE)))
            tx.conn.execute(
                insert(cs).values(
                    id_hash=_hash(sid),
                    token_id=token_id,
                    user_id=user_id,
                    created_at=now,
                    seen_at=now,
                    sso_logout=sso_logout,
                )
            )
        return Session(sid, token_id, now, now, user_id, sso_logout)

    def find(self, sid: str) -> Session | None:
        """The live session with this id (an ended one is removed on the way)."""
        now = self.clock.now()
        cs = t.console_sessions
        with self.db.read() as conn:
            row = conn.execute(select(cs).where(cs.c.id_hash == _hash(sid))).first()
        if row is None:
            return None
        if now - row.seen_at > IDLE or now - row.created_at > MAX_AGE:
            self.end(sid)
            return None
        if now - row.seen_at >= TOUCH_EVERY:
            with self.db.tx() as tx:
                tx.conn.execute(update(cs).where(cs.c.id_hash == _hash(sid)).values(seen_at=now))
        return Session(sid, row.token_id, row.created_at, now, row.user_id, row.sso_logout)

    def end(self, sid: str) -> None:
        with self.db.tx() as tx:
            tx.conn.execute(delete(t.console_sessions).where(t.console_sessions.c.id_hash == _hash(sid)))

    def end_token(self, token_id: str) -> None:
        """End every session opened with a token (it was revoked, or no longer exists)."""
        with self.db.tx() as tx:
            tx.conn.execute(delete(t.console_sessions).where(t.console_sessions.c.token_id == token_id))
