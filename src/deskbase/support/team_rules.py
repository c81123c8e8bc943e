"""Who a ticket may be assigned to, and who it is assigned to when it enters a team: the support domain's
rules on the core's one write path (record checks and a before-flush hook), so the API, batches, the
console, MCP, email and SLA escalations all obey them.

- ``assignee`` names an agent of the workspace by their email (lower-case), or is absent (unassigned). An
  email is what people, reports and SQL read, and it survives a change of name. A workspace without
  members (token-only automation) keeps free-text assignees until its first member joins. Only a changed
  assignee is checked: a ticket whose agent has left keeps the name until someone changes it.
- ``team`` names a team of the workspace by its id.
- A ticket that enters a team (created in it, or moved to it) unassigned and still open gets the member
  the team's rule chooses (assignment.py), in the same transaction, as a version of its own logged with
  the rule as its actor (`system:assignment`, source `assignment`). The team's lock orders concurrent
  writers, so two tickets never read the same round-robin position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from deskbase.core import agents as agent_list
from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.errors import ValidationFailed
from deskbase.core.filters import Compiler, parse_field
from deskbase.core.writer import UnitOfWork
from deskbase.support.assignment import LEAST_LOADED, OPEN_STATUSES, Candidate, choose

TICKETS = "tickets"


def rule_actor(team_id: str, rule: str) -> Actor:
    return Actor(
        id="system:assignment", name=f"{rule} rule of team {team_id}", is_admin=True, source="assignment"
    )


def open_loads(conn: Connection, workspace_id: str, emails: list[str]) -> dict[str, int]:
    """Open tickets assigned to each of `emails` (indexed on assignee)."""
    if not emails:
        return {}
    c = Compiler(conn.dialect.name)
    assignee = c.data_text(parse_field("data.assignee"))
    status = c.data_text(parse_field("data.status"))
    r = t.records
    rows = conn.execute(
        select(assignee.label("assignee"), func.count().label("n"))
        .select_from(r)
        .where(
            r.c.workspace_id == workspace_id,
            r.c.collection == TICKETS,
            r.c.deleted.is_(False),
            assignee.in_(emails),
            status.in_(OPEN_STATUSES),
        )
        .group_by(assignee)
    ).all()
    return {row.assignee: int(row.n) for row in rows}


@dataclass
class _TeamState:
    """A team as one flush sees it: members as candidates, loads read from the store and counted up as
    this flush assigns (a batch of new tickets spreads instead of landing on one person)."""

    rule: str
    emails: dict[str, str]  #: user id -> email
    candidates: list[Candidate]
    last: str | None  #: whom the rule chose last (the round-robin position)


class TeamRules:
    def __init__(self, core: Deskbase) -> None:
        self.core = core
        core.hooks.on_record_write(TICKETS, self.check)
        core.hooks.on_before_flush(self.assign)

    # ---- checks -------------------------------------------------------------------------------------
    def agents(self, uow: UnitOfWork) -> dict[str, agent_list.Agent] | None:
        """The workspace's agents by email (read once per unit), or None when it has no members yet."""
        if "agents" not in uow.memo:
            conn, ws = uow.tx.conn, uow.workspace_id
            uow.memo["agents"] = (
                agent_list.agents(conn, self.core.roles, ws, TICKETS)
                if agent_list.has_members(conn, ws)
                else None
            )
        found: dict[str, agent_list.Agent] | None = uow.memo["agents"]
        return found

    def check(self, uow: UnitOfWork, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
        was = before or {}
        if after.get("assignee") is not None and after.get("assignee") != was.get("assignee"):
            self._check_assignee(uow, after["assignee"])
        if after.get("team") is not None and after.get("team") != was.get("team"):
            self._check_team(uow, after["team"])

    def _check_assignee(self, uow: UnitOfWork, value: Any) -> None:
        agents = self.agents(uow)
        if agents is None or (isinstance(value, str) and value in agents):
            return
        hint = "the email of an agent of the workspace (a member whose role works tickets)"
        if isinstance(value, str):
            by_id = {a.user_id: a.email for a in agents.values()}
            if value.strip().lower() in agents:
                hint += f"; emails are lower-case: {value.strip().lower()!r}"
            elif value in by_id:
                hint += f"; that user's email is {by_id[value]!r}"
        raise ValidationFailed(
            f"assignee {value!r} is not an agent of workspace {uow.workspace_id!r}: use {hint}, "
            "or leave it out (unassigned)",
            [{"pointer": "/data/assignee", "message": "not an agent of the workspace"}],
        )

    def _check_team(self, uow: UnitOfWork, value: Any) -> None:
        known = uow.memo.setdefault("teams", {})
        if isinstance(value, str) and value not in known:
            known[value] = self.core.teams.row(uow.tx.conn, uow.workspace_id, value) is not None
        if isinstance(value, str) and known[value]:
            return
        raise ValidationFailed(
            f"team {value!r} is not a team of workspace {uow.workspace_id!r}",
            [{"pointer": "/data/team", "message": "no such team"}],
        )

    # ---- the rules ----------------------------------------------------------------------------------
    def assign(self, uow: UnitOfWork) -> None:
        """Give each ticket this unit moved into a team, unassigned and open, to the member the rule picks."""
        entering = [
            st
            for st in uow.records.values()
            if st.dirty
            and st.collection == TICKETS
            and not st.deleted
            and isinstance(st.data.get("team"), str)
            and not st.data.get("assignee")
            and st.data.get("status") in OPEN_STATUSES
            and (st.stored_data or {}).get("team") != st.data["team"]
        ]
        teams: dict[str, _TeamState | None] = {}
        for st in sorted(entering, key=lambda s: (s.created_at, s.id)):
            team_id = st.data["team"]
            if team_id not in teams:
                teams[team_id] = self._team(uow, team_id)
            state = teams[team_id]
            if state is None:
                continue
            chosen = choose(state.rule, state.candidates, state.last)
            if chosen is None:
                continue
            state.last = chosen
            uow.rule_patch(
                TICKETS, st.id, {"assignee": state.emails[chosen]}, rule_actor(team_id, state.rule)
            )
            self.core.teams.advance(uow.tx, uow.workspace_id, team_id, chosen)
            state.candidates = [
                Candidate(c.user_id, c.agent, c.online, c.load + 1, c.capacity) if c.user_id == chosen else c
                for c in state.candidates
            ]

    def _team(self, uow: UnitOfWork, team_id: str) -> _TeamState | None:
        """The team under its lock (concurrent assigners take turns on its round-robin position), or None
        when its rule is manual or it is gone."""
        conn, ws = uow.tx.conn, uow.workspace_id
        uow.tx.lock(f"team\x1f{ws}\x1f{team_id}")
        row = self.core.teams.row(conn, ws, team_id)
        if row is None or row.rule == "manual":
            return None
        members = self.core.teams.members_of(conn, ws, team_id)
        agents = self.agents(uow) or {}
        online = agent_list.online(conn, [m.user_id for m in members], self.core.clock.now())
        # Loads cost a count over the members' open tickets: read them only when the rule or a capacity weighs them.
        weighed = row.rule == LEAST_LOADED or any(m.capacity is not None for m in members)
        loads = open_loads(conn, ws, [m.email for m in members]) if weighed else {}
        return _TeamState(
            row.rule,
            {m.user_id: m.email for m in members},
            [
                Candidate(
                    m.user_id,
                    m.email in agents and agents[m.email].user_id == m.user_id,
                    m.user_id in online,
                    loads.get(m.email, 0),
                    m.capacity,
                )
                for m in members
            ],
            row.last_assigned,
        )
