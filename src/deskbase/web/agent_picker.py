"""The choices of the assignee and team pickers (a ticket's properties, the new-ticket form, bulk assign):
the workspace's agents with who is online (or away) and each one's open load, and its teams. Read per page
(a handful of indexed queries), never cached: who is online changes by the minute."""

from __future__ import annotations

from sqlalchemy import select

from deskbase.core import agents as agent_list
from deskbase.core.app import Deskbase
from deskbase.core.people_tables import teams
from deskbase.support.team_rules import TICKETS, open_loads
from deskbase.web.pages import AgentOption, TeamOption


def agent_options(core: Deskbase, workspace_id: str) -> list[AgentOption] | None:
    """Online agents first, then by name; None when the workspace has no members (free-text assignees)."""
    with core.db.read() as conn:
        if not agent_list.has_members(conn, workspace_id):
            return None
        found = agent_list.agents(conn, core.roles, workspace_id, TICKETS)
        ids = [a.user_id for a in found.values()]
        online = agent_list.online(conn, ids, core.clock.now())
        away = agent_list.away(conn, ids)
        loads = open_loads(conn, workspace_id, list(found))
    options = [
        AgentOption(a.email, a.name, a.user_id in online, loads.get(a.email, 0), a.user_id in away)
        for a in found.values()
    ]
    return sorted(options, key=lambda o: (not o.online, o.away, o.name.lower(), o.email))


def team_options(core: Deskbase, workspace_id: str) -> list[TeamOption]:
    with core.db.read() as conn:
        rows = conn.execute(
            select(teams.c.id, teams.c.name)
            .where(teams.c.workspace_id == workspace_id)
            .order_by(teams.c.name)
        ).all()
    return [TeamOption(r.id, r.name) for r in rows]
