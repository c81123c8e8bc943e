"""Memberships: which users belong to a workspace, with which role.

Managing members needs `admin` over the whole workspace (checked by the adapters, as every permission is).
Two rules more: only an owner of the workspace (or a server admin, or a service token administering it)
makes someone an owner or changes an owner's membership; and a change that narrows what a user may do (a
removal, or a role that does not cover the old one) stops the triggers and hooks the user configured, which
would otherwise go on acting with the rights recorded when they were set up. The user's tokens and sessions
narrow by themselves: their rights are computed from the roles on every request.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from deskbase.core import tables as t
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.errors import Forbidden, NotFound
from deskbase.core.grants import uncovered
from deskbase.core.hooks import Revocation
from deskbase.core.people_tables import memberships, users
from deskbase.core.roles import OWNER
from deskbase.core.users import not_found, public

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

audit_log = logging.getLogger("deskbase.audit")


def _public(workspace_id: str, role: str, since: Any, changed: Any, user: Any) -> dict[str, Any]:
    return {
        "workspace": workspace_id,
        "user": public(user),
        "role": role,
        "created_at": iso(since),
        "updated_at": iso(changed),
    }


class Members:
    def __init__(self, app: Deskbase) -> None:
        self.app = app

    def membership(self, conn: Connection, workspace_id: str, user_id: str) -> Any:
        return conn.execute(
            select(memberships).where(
                memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id
            )
        ).first()

    def is_owner(self, conn: Connection, actor: Actor, workspace_id: str) -> bool:
        """Server admins and service tokens (whose `admin` the route checked) count as owners."""
        if actor.is_admin or actor.user_id is None:
            return True
        row = self.membership(conn, workspace_id, actor.user_id)
        return row is not None and row.role == OWNER

    def owner_rule(self, conn: Connection, actor: Actor, workspace_id: str, *roles: str | None) -> None:
        if OWNER in roles and not self.is_owner(conn, actor, workspace_id):
            raise Forbidden(
                "only an owner of the workspace makes, changes or removes owners",
                {"permission": "admin", "role": OWNER},
            )

    def list(self, workspace_id: str) -> list[dict[str, Any]]:
        m = memberships
        with self.app.db.read() as conn:
            self.app.workspaces.require(conn, workspace_id)
            rows = conn.execute(
                select(users, m.c.role, m.c.created_at.label("since"), m.c.updated_at.label("changed"))
                .join(m, users.c.id == m.c.user_id)
                .where(m.c.workspace_id == workspace_id)
                .order_by(users.c.email)
            ).all()
        return [_public(workspace_id, r.role, r.since, r.changed, r) for r in rows]

    def get(self, workspace_id: str, user_id: str) -> dict[str, Any]:
        with self.app.db.read() as conn:
            self.app.workspaces.require(conn, workspace_id)
            row = self.membership(conn, workspace_id, user_id)
            if row is None:
                raise NotFound(f"user {user_id!r} is not a member of {workspace_id!r}", {"user": user_id})
            user = self.app.people.row(conn, user_id)
        return _public(workspace_id, row.role, row.created_at, row.updated_at, user)

    def put(self, actor: Actor, workspace_id: str, user_id: str, role: Any) -> tuple[dict[str, Any], bool]:
        """Add a user you can see (a colleague from another workspace; new people come by invitation) or
        change a member's role."""
        with self.app.db.tx() as tx:
            self.app.workspaces.require(tx.conn, workspace_id)
            if not self.app.people.may_see(tx.conn, actor, user_id):
                raise not_found(user_id)
            user = self.app.people.row(tx.conn, user_id)
            role = self.app.roles.require(tx.conn, workspace_id, role)
            old = self.membership(tx.conn, workspace_id, user_id)
            self.owner_rule(tx.conn, actor, workspace_id, role, old.role if old else None)
            self.set(tx, workspace_id, user_id, role)
            row = self.membership(tx.conn, workspace_id, user_id)
        audit_log.info("member %s of %s: role %s, by %s", user_id, workspace_id, role, actor.id)
        return _public(workspace_id, row.role, row.created_at, row.updated_at, user), old is None

    def set(self, tx: Tx, workspace_id: str, user_id: str, role: str) -> None:
        """Inside `tx`: make the membership so, stopping what the user configured if this narrows them."""
        now = self.app.clock.now()
        old = self.membership(tx.conn, workspace_id, user_id)
        if old is None:
            tx.conn.execute(
                insert(memberships).values(
                    workspace_id=workspace_id, user_id=user_id, role=role, created_at=now, updated_at=now
                )
            )
        elif old.role != role:
            before = self.app.roles.grants(tx.conn, workspace_id, old.role)
            after = self.app.roles.grants(tx.conn, workspace_id, role)
            tx.conn.execute(
                update(memberships)
                .where(memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id)
                .values(role=role, updated_at=now)
            )
            if uncovered(after, before) is not None:
                self._narrowed(
                    tx,
                    workspace_id,
                    user_id,
                    f"the role of its owner {{owner}} in the workspace went from {old.role} to {role}",
                )
        tx.after_commit(lambda: self.app.people.forget(user_id))

    def remove(self, actor: Actor, workspace_id: str, user_id: str) -> None:
        with self.app.db.tx() as tx:
            self.app.workspaces.require(tx.conn, workspace_id)
            old = self.membership(tx.conn, workspace_id, user_id)
            if old is None:
                raise NotFound(f"user {user_id!r} is not a member of {workspace_id!r}", {"user": user_id})
            self.owner_rule(tx.conn, actor, workspace_id, old.role)
            tx.conn.execute(
                delete(memberships).where(
                    memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id
                )
            )
            self.app.teams.drop_member(tx, workspace_id, user_id)
            self._narrowed(tx, workspace_id, user_id, "its owner {owner} was removed from the workspace")
            for fn in self.app.hooks.left:
                fn(tx, user_id, workspace_id)
            tx.after_commit(lambda: self.app.people.forget(user_id))
        audit_log.info("member %s removed from %s by %s", user_id, workspace_id, actor.id)

    def _narrowed(self, tx: Tx, workspace_id: str, user_id: str, why: str) -> None:
        """Triggers and hooks record their configurer's rights: those a narrowed user configured in the
        workspace stop, saying `why` ({owner} is their email; a member with the rights re-enables them)."""
        tokens = {
            r.id for r in tx.conn.execute(select(t.tokens.c.id).where(t.tokens.c.user_id == user_id)).all()
        }
        email = tx.conn.execute(select(users.c.email).where(users.c.id == user_id)).scalar()
        gone = Revocation(frozenset(tokens | {user_id}), why.replace("{owner}", str(email)), workspace_id)
        for fn in self.app.hooks.revoked:
            fn(tx, gone)

    def drop_workspace(self, tx: Tx, workspace_id: str) -> None:
        """Inside the transaction deleting a workspace: its memberships go with it."""
        gone = [
            r.user_id
            for r in tx.conn.execute(
                select(memberships.c.user_id).where(memberships.c.workspace_id == workspace_id)
            ).all()
        ]
        tx.conn.execute(delete(memberships).where(memberships.c.workspace_id == workspace_id))
        self.app.teams.drop_workspace(tx, workspace_id)
        if gone:
            tx.after_commit(self.app.people.forget)
