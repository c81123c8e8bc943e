"""API tokens: `dsk_` + 256 random bits, stored as SHA-256, shown once; grants decide what a token may do."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from deskbase.core import tables as t
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.errors import Forbidden, NotFound, Unauthorized

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

PREFIX = "dsk_"
ADMIN_GRANTS = [{"scope": {"workspaces": ["*"]}, "permissions": ["*"]}]
LAST_USED_EVERY = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "grants": row.grants,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at) if row.expires_at else None,
        "revoked_at": iso(row.revoked_at) if row.revoked_at else None,
        "last_used_at": iso(row.last_used_at) if row.last_used_at else None,
    }


def _is_admin(grants: list[dict[str, Any]]) -> bool:
    return any(
        "*" in g.get("permissions", []) and "*" in g.get("scope", {}).get("workspaces", []) for g in grants
    )


class Tokens:
    def __init__(self, app: Deskbase) -> None:
        self.app = app
        self._last_used: dict[str, datetime] = {}

    def create(
        self,
        name: str,
        grants: list[dict[str, Any]],
        created_by: str | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Mint a token; the raw value is returned once and only its hash is kept."""
        raw = PREFIX + secrets.token_urlsafe(32)
        tid = "tok_" + secrets.token_hex(8)
        now = self.app.clock.now()
        with self.app.db.tx() as tx:
            tx.conn.execute(
                insert(t.tokens).values(
                    id=tid,
                    name=name,
                    token_hash=hash_token(raw),
                    grants=grants,
                    created_at=now,
                    expires_at=expires_at,
                    created_by=created_by,
                )
            )
            row = tx.conn.execute(select(t.tokens).where(t.tokens.c.id == tid)).one()
        return raw, public(row)

    def authenticate(self, raw: str | None) -> Actor:
        if not raw:
            raise Unauthorized("missing bearer token: send 'Authorization: Bearer dsk_…'")
        if not raw.startswith(PREFIX):
            raise Unauthorized("malformed token")
        digest = hash_token(raw)
        with self.app.db.read() as conn:
            row = conn.execute(select(t.tokens).where(t.tokens.c.token_hash == digest)).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            raise Unauthorized("invalid token")
        now = self.app.clock.now()
        if row.revoked_at is not None:
            raise Unauthorized("token revoked")
        if row.expires_at is not None and row.expires_at <= now:
            raise Unauthorized("token expired")
        self._touch(row.id, now)
        return Actor(id=row.id, name=row.name, grants=tuple(row.grants), is_admin=_is_admin(row.grants))

    def _touch(self, token_id: str, now: datetime) -> None:
        """Record last use at most once a minute per token, so reads do not turn into writes."""
        last = self._last_used.get(token_id)
        if last is not None and now - last < LAST_USED_EVERY:
            return
        self._last_used[token_id] = now
        with self.app.db.tx() as tx:
            tx.conn.execute(update(t.tokens).where(t.tokens.c.id == token_id).values(last_used_at=now))

    def ensure_admin_token(self, data_dir: Path) -> tuple[str, bool]:
        """The first start mints an admin token and keeps its raw value in a 0600 file of the data dir.

        Returns (raw token, created now). A token file whose token is no longer known is replaced.
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


def _covers(grant: dict[str, Any], workspace_id: str | None, collection: str | None) -> bool:
    scope = grant.get("scope") or {}
    workspaces = scope.get("workspaces") or []
    if workspace_id is not None and "*" not in workspaces and workspace_id not in workspaces:
        return False
    colls = scope.get("collections")
    return not (collection is not None and colls and "*" not in colls and collection not in colls)


def authorize(
    actor: Actor, permission: str, workspace_id: str | None = None, collection: str | None = None
) -> None:
    """Raise unless the actor may do `permission` here. Out-of-scope workspaces look absent (404), so a token
    never learns that another tenant exists; missing permissions inside its scope are a 403."""
    if actor.is_admin:
        return
    if workspace_id is not None and not any(_covers(g, workspace_id, None) for g in actor.grants):
        raise NotFound(f"workspace {workspace_id!r} not found", {"workspace": workspace_id})
    if collection is not None and not any(_covers(g, workspace_id, collection) for g in actor.grants):
        raise NotFound(
            f"collection {collection!r} not found in workspace {workspace_id!r}",
            {"workspace": workspace_id, "collection": collection},
        )
    for g in actor.grants:
        perms = g.get("permissions") or []
        if _covers(g, workspace_id, collection) and (permission in perms or "*" in perms or "admin" in perms):
            return
    raise Forbidden(f"this token lacks the {permission!r} permission here", {"permission": permission})
