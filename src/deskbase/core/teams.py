"""Teams: a workspace's named groups of members, each with an assignment rule.

A team is configuration, like a role: not a record, not in the change log; changes go to the audit log.
Members are listed in rotation order, each with an optional capacity (how many open tickets an assignment
rule may give them). What the rules do with a team lives in the support domain (support/team_rules.py);
the core keeps the rows, the round-robin position (`last_assigned`, persisted so a restart does not start
the rotation over) and the consistency with memberships (a member who leaves the workspace leaves its teams).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.errors import NotFound, ValidationFailed
from deskbase.core.people_tables import memberships, team_members, teams, users

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

audit_log = logging.getLogger("deskbase.audit")
RULES = ("manual", "round_robin", "least_loaded")
MAX_MEMBERS = 500
MAX_CAPACITY = 100_000
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def missing(workspace_id: str, team_id: str) -> NotFound:
    return NotFound(f"team {team_id!r} not found in workspace {workspace_id!r}", {"team": team_id})


def _bad(pointer: str, message: str, summary: str | None = None) -> ValidationFailed:
    return ValidationFailed(summary or message, [{"pointer": pointer, "message": message}])


class Teams:
    def __init__(self, app: Deskbase) -> None:
        self.app = app

    # ---- reads --------------------------------------------------------------------------------------
    def row(self, conn: Connection, workspace_id: str, team_id: str) -> Any:
        return conn.execute(
            select(teams).where(teams.c.workspace_id == workspace_id, teams.c.id == team_id)
        ).first()

    def members_of(self, conn: Connection, workspace_id: str, team_id: str) -> list[Any]:
        """The team's members in rotation order, with their email, name and capacity."""
        tm = team_members
        return list(
            conn.execute(
                select(tm.c.user_id, tm.c.capacity, users.c.email, users.c.name)
                .join(users, users.c.id == tm.c.user_id)
                .where(tm.c.workspace_id == workspace_id, tm.c.team_id == team_id)
                .order_by(tm.c.position)
            ).all()
        )

    def of_user(self, conn: Connection, workspace_id: str, user_id: str) -> list[str]:
        """The ids of the user's teams in the workspace ("My team's open")."""
        tm = team_members
        return list(
            conn.execute(
                select(tm.c.team_id)
                .where(tm.c.workspace_id == workspace_id, tm.c.user_id == user_id)
                .order_by(tm.c.team_id)
            ).scalars()
        )

    def _public(self, conn: Connection, row: Any) -> dict[str, Any]:
        return {
            "id": row.id,
            "workspace": row.workspace_id,
            "name": row.name,
            "rule": row.rule,
            "members": [
                {"user": m.user_id, "email": m.email, "name": m.name, "capacity": m.capacity}
                for m in self.members_of(conn, row.workspace_id, row.id)
            ],
            "version": row.version,
            "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at),
        }

    # ---- writes -------------------------------------------------------------------------------------
    def _members(self, conn: Connection, workspace_id: str, given: Any) -> list[tuple[str, int | None]]:
        """Checked members: each a workspace member named by user id or email, once, with a capacity."""
        if not isinstance(given, list) or len(given) > MAX_MEMBERS:
            raise _bad("/members", f"a list of at most {MAX_MEMBERS} members")
        m = memberships
        rows = conn.execute(
            select(users.c.id, users.c.email)
            .join(m, m.c.user_id == users.c.id)
            .where(m.c.workspace_id == workspace_id)
        ).all()
        by_key = {r.id: r.id for r in rows} | {r.email: r.id for r in rows}
        out: list[tuple[str, int | None]] = []
        seen: set[str] = set()
        for i, item in enumerate(given):
            entry = {"user": item} if isinstance(item, str) else item
            if not isinstance(entry, dict) or not isinstance(entry.get("user"), str):
                raise _bad(f"/members/{i}", 'expected {"user": <user id or email>, "capacity"?: <int>}')
            key = entry["user"].strip()
            uid = by_key.get(key) or by_key.get(key.lower())
            if uid is None:
                raise _bad(
                    f"/members/{i}/user",
                    "not a member of the workspace",
                    f"{key!r} is not a member of workspace {workspace_id!r}; add people to the workspace "
                    "(invitations, members) before putting them in a team",
                )
            if uid in seen:
                raise _bad(f"/members/{i}/user", "listed twice")
            seen.add(uid)
            cap = entry.get("capacity")
            if cap is not None and (
                not isinstance(cap, int) or isinstance(cap, bool) or not 0 <= cap <= MAX_CAPACITY
            ):
                raise _bad(
                    f"/members/{i}/capacity", f"an integer from 0 to {MAX_CAPACITY}, or null (no limit)"
                )
            out.append((uid, cap))
        return out

    def put(
        self, actor: Actor, workspace_id: str, team_id: str, body: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Create or replace a team: `name`, `rule` (default manual) and `members` (default none)."""
        if not _ID.match(team_id):
            raise _bad("/id", "a lowercase slug (letters, digits, - and _)", "a team id is a lowercase slug")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise _bad("/name", "a non-empty name of at most 200 characters")
        rule = body.get("rule") or "manual"
        if rule not in RULES:
            raise _bad("/rule", f"one of {', '.join(RULES)}")
        now = self.app.clock.now()
        with self.app.db.tx() as tx:
            self.app.workspaces.require(tx.conn, workspace_id)
            members = self._members(tx.conn, workspace_id, body.get("members") or [])
            tx.lock(f"team\x1f{workspace_id}\x1f{team_id}")
            old = self.row(tx.conn, workspace_id, team_id)
            key = (teams.c.workspace_id == workspace_id) & (teams.c.id == team_id)
            values = {"name": name.strip(), "rule": rule, "updated_at": now}
            if old is None:
                tx.conn.execute(
                    insert(teams).values(
                        workspace_id=workspace_id, id=team_id, version=1, created_at=now, **values
                    )
                )
            else:
                tx.conn.execute(update(teams).where(key).values(version=old.version + 1, **values))
            tm = team_members
            tx.conn.execute(delete(tm).where(tm.c.workspace_id == workspace_id, tm.c.team_id == team_id))
            if members:
                tx.conn.execute(
                    insert(tm),
                    [
                        {
                            "workspace_id": workspace_id,
                            "team_id": team_id,
                            "user_id": uid,
                            "position": i,
                            "capacity": cap,
                        }
                        for i, (uid, cap) in enumerate(members)
                    ],
                )
            out = self._public(tx.conn, tx.conn.execute(select(teams).where(key)).one())
        audit_log.info(
            "team %s of %s %s by %s", team_id, workspace_id, "created" if old is None else "changed", actor.id
        )
        return out, old is None

    def delete(self, actor: Actor, workspace_id: str, team_id: str) -> None:
        """Tickets that name the team keep the name; they can no longer be moved to it."""
        with self.app.db.tx() as tx:
            self.app.workspaces.require(tx.conn, workspace_id)
            if self.row(tx.conn, workspace_id, team_id) is None:
                raise missing(workspace_id, team_id)
            tm = team_members
            tx.conn.execute(delete(tm).where(tm.c.workspace_id == workspace_id, tm.c.team_id == team_id))
            tx.conn.execute(delete(teams).where(teams.c.workspace_id == workspace_id, teams.c.id == team_id))
        audit_log.info("team %s of %s deleted by %s", team_id, workspace_id, actor.id)

    def advance(self, tx: Tx, workspace_id: str, team_id: str, user_id: str) -> None:
        """Inside the write that assigned a ticket: the round-robin position moves to `user_id`."""
        tx.conn.execute(
            update(teams)
            .where(teams.c.workspace_id == workspace_id, teams.c.id == team_id)
            .values(last_assigned=user_id)
        )

    def drop_member(self, tx: Tx, workspace_id: str, user_id: str) -> None:
        """Inside the transaction removing a member: they leave the workspace's teams too."""
        tm = team_members
        tx.conn.execute(delete(tm).where(tm.c.workspace_id == workspace_id, tm.c.user_id == user_id))

    def drop_user(self, tx: Tx, user_id: str) -> None:
        tx.conn.execute(delete(team_members).where(team_members.c.user_id == user_id))

    def drop_workspace(self, tx: Tx, workspace_id: str) -> None:
        tx.conn.execute(delete(team_members).where(team_members.c.workspace_id == workspace_id))
        tx.conn.execute(delete(teams).where(teams.c.workspace_id == workspace_id))

    # ---- listing (last: `list` would shadow the builtin in the annotations above) ----------------------
    def list(self, workspace_id: str) -> list[dict[str, Any]]:
        with self.app.db.read() as conn:
            self.app.workspaces.require(conn, workspace_id)
            rows = conn.execute(
                select(teams).where(teams.c.workspace_id == workspace_id).order_by(teams.c.name, teams.c.id)
            ).all()
            return [self._public(conn, r) for r in rows]

    def get(self, workspace_id: str, team_id: str) -> dict[str, Any]:
        with self.app.db.read() as conn:
            self.app.workspaces.require(conn, workspace_id)
            row = self.row(conn, workspace_id, team_id)
            if row is None:
                raise missing(workspace_id, team_id)
            return self._public(conn, row)
