"""API tokens: `dsk_` + 256 random bits, stored as SHA-256 and shown once; minted, authenticated (with a short
cache), touched, listed and revoked here. What a token may do is checked in `auth.py`."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update

from deskbase.core import tables as t
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from deskbase.core.grants import (
    ANY,
    intersect,
    is_server_admin,
    normalize,
    uncovered,
)
from deskbase.core.hooks import Revocation

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

PREFIX = "dsk_"
RAW_LENGTH = len(PREFIX) + 43  # token_urlsafe(32): 256 bits in 43 base64url characters
ADMIN_GRANTS = [{"scope": {"workspaces": [ANY]}, "permissions": [ANY]}]
LAST_USED_EVERY = timedelta(minutes=1)
#: How long a token read from the store is trusted without reading it again. This process forgets a token at
#: once when it revokes one; another process revoking it is seen within this bound.
TOKEN_CACHE_SECONDS = 1.0
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Token lifecycle events (ids and names only — a raw token is never passed to a logger).
audit_log = logging.getLogger("deskbase.audit")


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "grants": row.grants,
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
        "expires_at": iso(row.expires_at) if row.expires_at else None,
        "revoked_at": iso(row.revoked_at) if row.revoked_at else None,
        "last_used_at": iso(row.last_used_at) if row.last_used_at else None,
        "user_id": row.user_id,
    }


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or _CONTROL.search(name):
        raise ValidationFailed(
            "a token name is 1-200 printable characters",
            [{"pointer": "/name", "message": "1-200 printable characters"}],
        )
    return name.strip()


class Tokens:
    def __init__(self, app: Deskbase, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self._last_used: dict[str, datetime] = {}
        # token hash -> (when read, row): a request costs no store round trip for its token (measured: the
        # read is most of `authenticate`'s cost); bounded by TOKEN_CACHE_SECONDS, cleared by `revoke`.
        self._cache: dict[str, tuple[float, Any]] = {}
        self._cache_lock = threading.Lock()
        self._monotonic = monotonic

    def create(
        self,
        name: str,
        grants: list[dict[str, Any]],
        created_by: str | None = None,
        expires_at: datetime | None = None,
        user_id: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Mint a token without checking who asks (bootstrap and tests); `mint` is the checked path.
        The raw value is returned once and only its hash is kept. A token with a `user_id` is that user's:
        its rights are its grants intersected with the user's roles, computed on every use."""
        grants = normalize(grants)
        raw = PREFIX + secrets.token_urlsafe(32)
        tid = "tok_" + secrets.token_hex(8)
        now = self.app.clock.now()
        with self.app.db.tx() as tx:
            tx.conn.execute(
                insert(t.tokens).values(
                    id=tid,
                    name=_check_name(name),
                    token_hash=hash_token(raw),
                    grants=grants,
                    created_at=now,
                    expires_at=expires_at,
                    created_by=created_by,
                    user_id=user_id,
                )
            )
            row = tx.conn.execute(select(t.tokens).where(t.tokens.c.id == tid)).one()
        audit_log.info("token %s (%s) created by %s", tid, row.name, created_by)
        return raw, public(row)

    def mint(
        self, actor: Actor, name: str, grants: Any, expires_at: datetime | None = None
    ) -> tuple[str, dict[str, Any]]:
        """A token mints only inside the scope it administers, so the new grants are equal or narrower, and
        the new token expires no later than the one that minted it. What a user (or a user's token) mints is
        that user's too, so it narrows with the user's roles."""
        name = _check_name(name)
        grants = normalize(grants)
        now = self.app.clock.now()
        if expires_at is not None and expires_at <= now:
            raise ValidationFailed(
                "expires_at must be in the future", [{"pointer": "/expires_at", "message": "in the past"}]
            )
        if not actor.is_admin:
            missing = uncovered(actor.grants, [{**g, "permissions": ["admin"]} for g in grants])
            if missing is not None:
                ws, coll, _ = missing
                where = f"workspace {ws!r}" + (f", collection {coll!r}" if coll else "")
                raise Forbidden(
                    f"a token mints only within the scope it administers; it lacks 'admin' on {where}",
                    {"permission": "admin", "workspace": ws, "collection": coll},
                )
        with self.app.db.read() as conn:
            parent = conn.execute(select(t.tokens.c.expires_at).where(t.tokens.c.id == actor.id)).first()
        cap = parent.expires_at if parent is not None else None
        if cap is not None and (expires_at is None or expires_at > cap):
            raise ValidationFailed(
                f"a token cannot outlive the token that mints it (which expires at {iso(cap)})",
                [{"pointer": "/expires_at", "message": f"at most {iso(cap)}"}],
            )
        return self.create(name, grants, created_by=actor.id, expires_at=expires_at, user_id=actor.user_id)

    def authenticate(self, raw: str | None, source: str | None = None) -> Actor:
        """The token's actor, writing through the channel `source` (see `Actor.source`)."""
        if not raw:
            raise Unauthorized("missing bearer token: send 'Authorization: Bearer dsk_…'")
        if not raw.startswith(PREFIX) or len(raw) > 2 * RAW_LENGTH:
            raise Unauthorized("malformed token")
        digest = hash_token(raw)
        row = self._cached(digest)
        if row is None:
            with self.app.db.read() as conn:
                row = conn.execute(select(t.tokens).where(t.tokens.c.token_hash == digest)).first()
            if row is not None:
                with self._cache_lock:
                    if len(self._cache) > 10_000:
                        self._cache.clear()
                    self._cache[digest] = (self._monotonic(), row)
        # The lookup is by a hash the caller cannot steer; the comparison is constant-time all the same.
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            raise Unauthorized("invalid token")
        return self._checked(row, source)

    def authenticate_cached(self, raw: str | None, source: str | None = None) -> Actor | None:
        """`authenticate` when it needs no store access (a cached token whose last-use stamp is not due), so
        the event loop can answer it without a thread hop; None means: call `authenticate`."""
        if not raw or not raw.startswith(PREFIX) or len(raw) > 2 * RAW_LENGTH:
            return None
        digest = hash_token(raw)
        row = self._cached(digest)
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        last = self._last_used.get(row.id)
        if last is None or self.app.clock.now() - last >= LAST_USED_EVERY:
            return None
        if row.user_id is not None and self.app.people.access.cached(row.user_id) is None:
            return None
        return self._checked(row, source)

    def _cached(self, digest: str) -> Any:
        with self._cache_lock:
            hit = self._cache.get(digest)
        if hit is None or self._monotonic() - hit[0] >= TOKEN_CACHE_SECONDS:
            return None
        return hit[1]

    def forget(self) -> None:
        """Drop every cached token (after a revocation here; other processes wait out the bound)."""
        with self._cache_lock:
            self._cache.clear()

    def authenticate_id(self, token_id: str, source: str | None = None) -> Actor:
        """The actor of a console session, which keeps only the id of the token it was opened with: the same
        revocation and expiry checks as a bearer token, on every request."""
        with self.app.db.read() as conn:
            row = conn.execute(select(t.tokens).where(t.tokens.c.id == token_id)).first()
        if row is None:
            raise Unauthorized("token no longer exists")
        return self._checked(row, source)

    def _checked(self, row: Any, source: str | None = None) -> Actor:
        now = self.app.clock.now()
        if row.revoked_at is not None:
            raise Unauthorized("token revoked")
        if row.expires_at is not None and row.expires_at <= now:
            raise Unauthorized("token expired")
        grants = list(row.grants)
        if row.user_id is not None:
            # A personal token never exceeds its user: a suspended or deleted user's tokens stop, and a
            # demotion narrows them from the next request (the roles are cached as briefly as tokens are).
            grants = intersect(grants, self.app.people.access.get(row.user_id).grants)
        self._touch(row.id, now)
        return Actor(
            id=row.id,
            name=row.name,
            grants=tuple(grants),
            is_admin=is_server_admin(grants),
            user_id=row.user_id,
            source=source,
        )

    def _touch(self, token_id: str, now: datetime) -> None:
        """Record last use at most once a minute per token, so reads do not turn into writes."""
        last = self._last_used.get(token_id)
        if last is not None and now - last < LAST_USED_EVERY:
            return
        self._last_used[token_id] = now
        with self.app.db.tx() as tx:
            tx.conn.execute(update(t.tokens).where(t.tokens.c.id == token_id).values(last_used_at=now))

    # ---- management: a server admin sees every token, anyone else the tokens it minted (transitively); a
    # user signed in to the console, every token of theirs --------------------------------------------
    def _managed(self, actor: Actor) -> dict[str, Any]:
        with self.app.db.read() as conn:
            rows = {r.id: r for r in conn.execute(select(t.tokens).order_by(t.tokens.c.created_at)).all()}
        if actor.is_admin:
            return rows
        if actor.user_id is not None and actor.id == actor.user_id:
            return {k: v for k, v in rows.items() if v.user_id == actor.user_id}
        keep = {actor.id} if actor.id in rows else set()
        frontier = set(keep)
        while frontier:
            frontier = {r.id for r in rows.values() if r.created_by in frontier} - keep
            keep |= frontier
        return {k: v for k, v in rows.items() if k in keep}

    def current(self, actor: Actor) -> dict[str, Any]:
        with self.app.db.read() as conn:
            row = conn.execute(select(t.tokens).where(t.tokens.c.id == actor.id)).first()
        if row is None:  # an in-process actor such as SYSTEM
            return {
                "id": actor.id,
                "name": actor.name,
                "grants": list(actor.grants),
                "is_admin": actor.is_admin,
                "user_id": actor.user_id,
            }
        # the grants in force: a personal token's are narrowed to its user's roles
        return {**public(row), "grants": list(actor.grants), "is_admin": actor.is_admin}

    def list(self, actor: Actor) -> list[dict[str, Any]]:
        return [public(r) for r in self._managed(actor).values()]

    def get(self, actor: Actor, token_id: str) -> dict[str, Any]:
        row = self._managed(actor).get(token_id)
        if row is None:
            raise NotFound(f"token {token_id!r} not found", {"id": token_id})
        return public(row)

    def revoke(self, actor: Actor, token_id: str) -> dict[str, Any]:
        """Revoke a token and every token minted from it (a leaked token's offspring go with it).
        Revoking again is a no-op that returns the token as it is."""
        managed = self._managed(actor)
        if token_id not in managed:
            raise NotFound(f"token {token_id!r} not found", {"id": token_id})
        doomed = {token_id}
        frontier = {token_id}
        while frontier:
            frontier = {r.id for r in managed.values() if r.created_by in frontier} - doomed
            doomed |= frontier
        now = self.app.clock.now()
        with self.app.db.tx() as tx:
            tx.conn.execute(
                update(t.tokens)
                .where(t.tokens.c.id.in_(sorted(doomed)), t.tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            tx.conn.execute(
                delete(t.console_sessions).where(t.console_sessions.c.token_id.in_(sorted(doomed)))
            )
            gone = Revocation(frozenset(doomed), "the token that configured it was revoked")
            for fn in self.app.hooks.revoked:
                fn(tx, gone)
            row = tx.conn.execute(select(t.tokens).where(t.tokens.c.id == token_id)).one()
        self.forget()
        audit_log.info("token %s revoked by %s (with %d minted from it)", token_id, actor.id, len(doomed) - 1)
        return public(row)

    def ensure_admin_token(self, data_dir: Path) -> tuple[str, bool]:
        """The first start mints an admin token and keeps its raw value in a 0600 file of the data dir.

        Returns (raw token, created now). A token file whose token is no longer valid is replaced.
        """
        path = data_dir / "admin-token"
        if path.exists():
            raw = path.read_text().strip()
            try:
                self.authenticate(raw)
                return raw, False
            except Unauthorized:
                pass
        raw, _ = self.create("admin", ADMIN_GRANTS, created_by="system")
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(raw + "\n")
        os.chmod(path, 0o600)
        return raw, True


# ---- permission checks -------------------------------------------------------------------------------
