"""Who a notification is for: the workspace's members, looked up once per loop step.

`assignee_user` is the one place that says which user a ticket's `assignee` value is. Today `assignee` is
free text and a user goes by their email there (the console's "My open tickets" and the demo data do the
same); a user id is accepted too, so a store that starts writing ids needs no change here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from deskbase.core import tables as t
from deskbase.core.people_tables import memberships, users
from deskbase.core.user_access import ACTIVE


@dataclass(frozen=True)
class Member:
    user_id: str
    email: str
    name: str


@dataclass
class Directory:
    """Members per workspace and the user behind each actor, read lazily within one read transaction."""

    conn: Connection
    _members: dict[str, dict[str, Member]] = field(default_factory=dict)
    _actors: dict[str, str | None] = field(default_factory=dict)

    def members(self, ws: str) -> dict[str, Member]:
        """The workspace's active members by user id."""
        if ws not in self._members:
            rows = self.conn.execute(
                select(users.c.id, users.c.email, users.c.name)
                .join(memberships, memberships.c.user_id == users.c.id)
                .where(memberships.c.workspace_id == ws, users.c.status == ACTIVE)
            ).all()
            self._members[ws] = {r.id: Member(r.id, r.email, r.name) for r in rows}
        return self._members[ws]

    def member(self, ws: str, user_id: Any) -> Member | None:
        return self.members(ws).get(user_id) if isinstance(user_id, str) else None

    def user_of_actor(self, actor: str | None) -> str | None:
        """The person behind a change's actor: a user (console session) or a user's personal token."""
        if not actor:
            return None
        if actor not in self._actors:
            uid = self.conn.execute(select(users.c.id).where(users.c.id == actor)).scalar()
            if uid is None:
                uid = self.conn.execute(select(t.tokens.c.user_id).where(t.tokens.c.id == actor)).scalar()
            self._actors[actor] = uid
        return self._actors[actor]

    def person(self, actor: str | None) -> str | None:
        """How a notification names who caused it: the user behind the actor, else the actor itself."""
        return self.user_of_actor(actor) or actor


def assignee_user(directory: Directory, ws: str, assignee: Any) -> Member | None:
    """The member of `ws` a ticket's `assignee` value names (their email, any case, or their user id); None
    for nobody, free text that names no member, or a member of another workspace."""
    if not isinstance(assignee, str) or not assignee.strip():
        return None
    members = directory.members(ws)
    value = assignee.strip()
    if value in members:
        return members[value]
    lowered = value.lower()
    return next((m for m in members.values() if m.email == lowered), None)
