"""The rules: which facts read from the change log and the SLA events notify whom, as which kind.

No clock, no writes: the loop (fanout.py) gathers the facts, calls `derive`, and stores what it returns.
Each candidate carries a `source_key` naming its source change (by seq) or SLA event and the rule, so a
re-read of the same change yields the same keys and the store's unique (user, source_key) drops it.

- assigned: a ticket's assignee becomes a member (it was someone else or nobody before), not by that member.
- team_assigned: a ticket entered a team (created in it or moved to it) and no one has it: each member of
  the team is told, except whoever moved it there.
- customer_reply: the ticket's customer wrote a reply on a ticket assigned to a member.
- mention: an internal note names members in `mentions` (user ids); each is told, except its writer. An
  edit that adds names tells only the newly named (the loop passes only those).
- sla_warning / sla_breach: an SLA clock of a ticket assigned to a member warned or breached.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from deskbase.notify.kinds import ASSIGNED, CUSTOMER_REPLY, MENTION, SLA_KINDS, TEAM_ASSIGNED
from deskbase.notify.recipients import Directory, assignee_user

EXCERPT = 200  #: characters of a message the notification keeps


@dataclass(frozen=True)
class Ticket:
    workspace_id: str
    id: str
    number: int | None
    subject: str
    assignee: Any  #: the value the ticket holds now (SLA, replies) or after the change (assignment)

    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "number": self.number, "subject": self.subject}


@dataclass(frozen=True)
class Assignment:
    """A change of a ticket in the log, with its assignee before and after."""

    seq: int
    ticket: Ticket
    before: Any
    actor: str | None
    actor_name: str | None


@dataclass(frozen=True)
class TeamEntry:
    """A change by which a ticket entered `team`; the loop passes only tickets still in it, open and
    unassigned when it reads them (the team's rule, had it picked someone, did so in the same transaction)."""

    seq: int
    ticket: Ticket
    team: str
    actor: str | None
    actor_name: str | None


@dataclass(frozen=True)
class Message:
    """A response newly linked to a ticket: `who` is customer, agent or note (support.tickets.classify)."""

    seq: int
    ticket: Ticket
    who: str
    body: str
    author: str
    actor: str | None
    actor_name: str | None
    mentions: tuple[Any, ...] = ()


@dataclass(frozen=True)
class SlaEvent:
    key: str  #: stable per event (ticket, metric, cycle, restart, kind, instant)
    ticket: Ticket
    kind: str  #: warn | breach
    metric: str
    at: str


@dataclass(frozen=True)
class Candidate:
    workspace_id: str
    user_id: str
    kind: str
    ticket_id: str
    source_key: str
    actor: str | None
    actor_name: str | None
    data: dict[str, Any] = field(default_factory=dict)


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "\u2026"


def assigned(d: Directory, a: Assignment) -> list[Candidate]:
    ws = a.ticket.workspace_id
    after = assignee_user(d, ws, a.ticket.assignee)
    if after is None:
        return []
    before = assignee_user(d, ws, a.before)
    if (before is not None and before.user_id == after.user_id) or d.user_of_actor(a.actor) == after.user_id:
        return []
    data = {"ticket": a.ticket.ref()}
    return [
        Candidate(
            ws,
            after.user_id,
            ASSIGNED.name,
            a.ticket.id,
            f"c{a.seq}:{ASSIGNED.name}",
            d.person(a.actor),
            a.actor_name,
            data,
        )
    ]


def team_assigned(d: Directory, e: TeamEntry) -> list[Candidate]:
    ws = e.ticket.workspace_id
    team = d.team(ws, e.team)
    if team is None:
        return []
    writer = d.user_of_actor(e.actor)
    data = {"ticket": e.ticket.ref(), "team": {"id": team.id, "name": team.name}}
    key = f"c{e.seq}:{TEAM_ASSIGNED.name}"
    return [
        Candidate(ws, m.user_id, TEAM_ASSIGNED.name, e.ticket.id, key, d.person(e.actor), e.actor_name, data)
        for m in team.members
        if m.user_id != writer
    ]


def message(d: Directory, m: Message) -> list[Candidate]:
    ws, out = m.ticket.workspace_id, []
    data = {"ticket": m.ticket.ref(), "excerpt": _excerpt(m.body), "author": m.author}
    if m.who == "customer":
        owner = assignee_user(d, ws, m.ticket.assignee)
        if owner is not None:
            key = f"c{m.seq}:{CUSTOMER_REPLY.name}"
            out.append(
                Candidate(ws, owner.user_id, CUSTOMER_REPLY.name, m.ticket.id, key, None, m.author, data)
            )
    elif m.who == "note":
        writer = d.user_of_actor(m.actor)
        seen: set[str] = set()
        for uid in m.mentions:
            member = d.member(ws, uid)
            if member is None or member.user_id == writer or member.user_id in seen:
                continue
            seen.add(member.user_id)
            key = f"c{m.seq}:{MENTION.name}"
            out.append(
                Candidate(
                    ws, member.user_id, MENTION.name, m.ticket.id, key, d.person(m.actor), m.actor_name, data
                )
            )
    return out


def sla(d: Directory, e: SlaEvent) -> list[Candidate]:
    kind = SLA_KINDS.get(e.kind)
    owner = assignee_user(d, e.ticket.workspace_id, e.ticket.assignee)
    if kind is None or owner is None:
        return []
    data = {"ticket": e.ticket.ref(), "metric": e.metric, "at": e.at}
    return [Candidate(e.ticket.workspace_id, owner.user_id, kind.name, e.ticket.id, e.key, None, "SLA", data)]


def derive(
    d: Directory,
    assignments: Iterable[Assignment] = (),
    messages: Iterable[Message] = (),
    events: Iterable[SlaEvent] = (),
    entries: Iterable[TeamEntry] = (),
) -> list[Candidate]:
    """Every notification the facts call for, in source order."""
    out = [c for a in assignments for c in assigned(d, a)]
    out += [c for e in entries for c in team_assigned(d, e)]
    out += [c for m in messages for c in message(d, m)]
    out += [c for e in events for c in sla(d, e)]
    return out
