"""Invitations: a one-time link that brings a person into a workspace with a role.

The link's secret (`dsi_` + 256 random bits) is shown once, to whoever invites; the store keeps its SHA-256.
It expires after 7 days and works once. Accepting it creates the user (name and password chosen then) or,
when the email already has an account, adds the membership, after that account's password is checked:
holding a link for someone's address must not be a way into the account they already have.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update

from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from deskbase.core.people_tables import invitations as inv
from deskbase.core.people_tables import memberships
from deskbase.core.users import check_field, normal_email, public

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

PREFIX = "dsi_"
TTL = timedelta(days=7)
audit_log = logging.getLogger("deskbase.audit")


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "workspace": row.workspace_id,
        "email": row.email,
        "role": row.role,
        "created_by": row.created_by,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "accepted_at": iso(row.accepted_at) if row.accepted_at else None,
    }


@dataclass(frozen=True)
class Preview:
    """What the invitation page shows before it is accepted."""

    workspace_id: str
    workspace_name: str
    email: str
    role: str
    existing_user: bool
    time_zone: str  #: the workspace's, offered as the new user's default


class Invitations:
    def __init__(self, app: Deskbase) -> None:
        self.app = app

    def create(self, actor: Actor, workspace_id: str, email: Any, role: Any) -> dict[str, Any]:
        """A new link for `email` (replacing any pending one for the same address). The result carries the
        raw `token` and the console `path` to send; neither is stored."""
        address = normal_email(email)
        raw = PREFIX + secrets.token_urlsafe(32)
        now = self.app.clock.now()
        with self.app.db.tx() as tx:
            self.app.workspaces.require(tx.conn, workspace_id)
            role = self.app.roles.require(tx.conn, workspace_id, role)
            self.app.members.owner_rule(tx.conn, actor, workspace_id, role)
            user = self.app.people.by_email(tx.conn, address)
            if user is not None and self.app.members.membership(tx.conn, workspace_id, user.id) is not None:
                raise Conflict(
                    f"{address} is already a member of {workspace_id!r}; change their role instead",
                    {"email": address, "user": user.id},
                )
            pending = (
                (inv.c.workspace_id == workspace_id) & (inv.c.email == address) & inv.c.accepted_at.is_(None)
            )
            tx.conn.execute(delete(inv).where(pending))
            iid = "inv_" + secrets.token_hex(8)
            tx.conn.execute(
                insert(inv).values(
                    id=iid,
                    workspace_id=workspace_id,
                    email=address,
                    role=role,
                    token_hash=_hash(raw),
                    created_by=actor.id,
                    created_at=now,
                    expires_at=now + TTL,
                )
            )
            row = tx.conn.execute(select(inv).where(inv.c.id == iid)).one()
        audit_log.info("invitation %s to %s as %s created by %s", iid, workspace_id, role, actor.id)
        return {**_public(row), "token": raw, "path": f"/invite/{raw}"}

    def list(self, workspace_id: str) -> list[dict[str, Any]]:
        """Pending invitations (not accepted, not expired)."""
        now = self.app.clock.now()
        with self.app.db.read() as conn:
            self.app.workspaces.require(conn, workspace_id)
            rows = conn.execute(
                select(inv)
                .where(
                    inv.c.workspace_id == workspace_id, inv.c.accepted_at.is_(None), inv.c.expires_at > now
                )
                .order_by(inv.c.created_at)
            ).all()
        return [_public(r) for r in rows]

    def revoke(self, workspace_id: str, invitation_id: str) -> None:
        with self.app.db.tx() as tx:
            self.app.workspaces.require(tx.conn, workspace_id)
            done = tx.conn.execute(
                delete(inv).where(
                    inv.c.workspace_id == workspace_id, inv.c.id == invitation_id, inv.c.accepted_at.is_(None)
                )
            )
            if not done.rowcount:
                raise NotFound(f"invitation {invitation_id!r} not found", {"invitation": invitation_id})

    def _usable(self, conn: Any, raw: str) -> Any:
        row = conn.execute(select(inv).where(inv.c.token_hash == _hash(raw))).first()
        if row is None:
            raise NotFound("this invitation link is not valid", {"invitation": None})
        if row.accepted_at is not None:
            raise Conflict("this invitation has already been accepted", {"reason": "used"})
        if row.expires_at <= self.app.clock.now():
            raise Conflict("this invitation has expired; ask for a new one", {"reason": "expired"})
        return row

    def preview(self, raw: str) -> Preview:
        with self.app.db.read() as conn:
            row = self._usable(conn, raw)
            existing = self.app.people.by_email(conn, row.email) is not None
        ws = self.app.workspaces.get(row.workspace_id)
        tz = str((ws.get("settings") or {}).get("timezone") or "UTC")
        return Preview(row.workspace_id, ws["name"], row.email, row.role, existing, tz)

    def accept(
        self,
        raw: str,
        password: Any,
        name: Any = None,
        time_zone: Any = None,
        address: str | None = None,
    ) -> tuple[dict[str, Any], str]:
        """Accept the invitation; returns the user and the workspace joined. A new user picks a name and a
        password (the password rules apply); an existing one proves the account with its password."""
        with self.app.db.read() as conn:
            row = self._usable(conn, raw)
            user = self.app.people.by_email(conn, row.email)
        if not isinstance(password, str) or not password:
            raise ValidationFailed(
                "a password is required", [{"pointer": "/password", "message": "required"}]
            )
        new = None
        if user is not None:
            if not self.app.signin.check_password(user, password, address):
                raise Unauthorized("wrong password for this account")
        else:
            if not isinstance(name, str) or not name.strip():
                raise ValidationFailed("your name is required", [{"pointer": "/name", "message": "required"}])
            fields: dict[str, Any] = {"email": row.email, "name": name}
            if time_zone:
                fields["time_zone"] = check_field("time_zone", time_zone)
            new = self.app.people.prepare(fields, password)
        with self.app.db.tx() as tx:
            row = self._usable(tx.conn, raw)  # again: a second accept racing this one finds it used
            if new is not None:
                user = self.app.people.insert(tx, new)
            assert user is not None
            member = tx.conn.execute(
                select(memberships.c.role).where(
                    memberships.c.workspace_id == row.workspace_id, memberships.c.user_id == user.id
                )
            ).first()
            if member is None:
                self.app.members.set(tx, row.workspace_id, user.id, row.role)
            now = self.app.clock.now()
            tx.conn.execute(
                update(inv).where(inv.c.id == row.id).values(accepted_at=now, accepted_by=user.id)
            )
            user = self.app.people.row(tx.conn, user.id)
        audit_log.info("invitation %s accepted by user %s", row.id, user.id)
        return public(user), row.workspace_id
