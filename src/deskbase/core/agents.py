"""Who may be given work in a workspace: its agents (members whose role writes a collection's records) and
which of them are online (signed in to the console and active lately).

An assignee must be one of the agents; assignment rules pick among the online ones. An agent who switched to
away (`users.away`) is not online, however recently their console was used. Both are read inside
the write transaction that needs them, so a member removed a moment ago is no longer an agent there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.engine import Connection

from deskbase.core import tables as t
from deskbase.core.auth import permits
from deskbase.core.context import Actor
from deskbase.core.people_tables import memberships, users
from deskbase.core.user_access import ACTIVE

if TYPE_CHECKING:
    from deskbase.core.roles import Roles

#: How recently a console session must have been used for its user to count as online. Sessions note their
#: use at most once a minute, and an open ticket page beats every 20 seconds.
ONLINE_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class Agent:
    user_id: str
    email: str
    name: str


def has_members(conn: Connection, workspace_id: str) -> bool:
    return (
        conn.execute(select(memberships.c.user_id).where(memberships.c.workspace_id == workspace_id)).first()
        is not None
    )


def agents(conn: Connection, roles: Roles, workspace_id: str, collection: str) -> dict[str, Agent]:
    """The workspace's active members whose role writes `collection`'s records, by email (an assignee names
    an agent by their email). A light agent or an analyst is a member but not an agent."""
    m = memberships
    rows = conn.execute(
        select(users.c.id, users.c.email, users.c.name, m.c.role)
        .join(m, m.c.user_id == users.c.id)
        .where(m.c.workspace_id == workspace_id, users.c.status == ACTIVE)
    ).all()
    writes: dict[str, bool] = {}
    out: dict[str, Agent] = {}
    for r in rows:
        if r.role not in writes:
            role = Actor(id="role", name=r.role, grants=tuple(roles.grants(conn, workspace_id, r.role)))
            writes[r.role] = permits(role, "write:records", workspace_id, collection)
        if writes[r.role]:
            out[r.email] = Agent(r.id, r.email, r.name)
    return out


def online(conn: Connection, user_ids: list[str], now: datetime) -> set[str]:
    """Those of `user_ids` with a console session used within `ONLINE_WINDOW` who have not switched to
    away."""
    if not user_ids:
        return set()
    cs = t.console_sessions
    return set(
        conn.execute(
            select(cs.c.user_id)
            .join(users, users.c.id == cs.c.user_id)
            .where(cs.c.user_id.in_(user_ids), cs.c.seen_at >= now - ONLINE_WINDOW, users.c.away.is_(False))
            .distinct()
        ).scalars()
    )


def away(conn: Connection, user_ids: list[str]) -> set[str]:
    """Those of `user_ids` who switched to away (signed in or not: the switch outlives sessions)."""
    if not user_ids:
        return set()
    return set(
        conn.execute(select(users.c.id).where(users.c.id.in_(user_ids), users.c.away.is_(True))).scalars()
    )
