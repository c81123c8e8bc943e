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
from deskbase.core.people_tables import memberships, team_members, teams, users
from deskbase.core.user_access import ACTIVE


@dataclass(frozen=True)
class Member:
    user_id: str
    email: str
    name: str


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    members: tuple[Member, ...]  #: in rotation order; only active members of the workspace


@dataclass
class Directory:
    """Members per workspace and the user behind each actor, read lazily within one read transaction."""

    conn: Connection
    _members: dict[str, dict[str, Member]] = field(default_factory=dict)
    _actors: dict[str, str | None] = field(default_factory=dict)
    _teams: dict[tuple[str, str], Team | None] = field(default_factory=dict)

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

    def team(self, ws: str, team_id: Any) -> Team | None:
        """The team as it is now (None when it is gone), with those of its members who are active members."""
        if not isinstance(team_id, str):
            return None
        if (ws, team_id) not in self._teams:
            name = self.conn.execute(
                select(teams.c.name).where(teams.c.workspace_id == ws, teams.c.id == team_id)
            ).scalar()
            ids = self.conn.execute(
                select(team_members.c.user_id)
                .where(team_members.c.workspace_id == ws, team_members.c.team_id == team_id)
                .order_by(team_members.c.position)
            ).scalars()
            members = self.members(ws)
            self._teams[ws, team_id] = (
                None if name is None else Team(team_id, name, tuple(members[u] for u in ids if u in members))
            )
        return self._teams[ws, team_id]

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
