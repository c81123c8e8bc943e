"""SLA evaluation: literal stories on a Madrid office calendar and a 24x7 one; Hypothesis invariants.

Stories are written in Madrid wall-clock time ("2026-03-02 09:00" is a Monday; Madrid is UTC+1 in early
March and December). The office is open Mon-Fri 09:00-17:00, closed on 2026-12-25.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskbase.support.calendar import Calendar, calendar_24x7
from deskbase.support.evaluate import (
    Evaluation,
    Message,
    PolicyEra,
    SlaInstance,
    TicketFacts,
    TicketMetrics,
    TicketVersion,
    evaluate,
)
from deskbase.support.policy import Policy

MADRID = ZoneInfo("Europe/Madrid")
OFFICE = Calendar.from_dict(
    {
        "timezone": "Europe/Madrid",
        "weekly": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": [{"date": "2026-12-25", "name": "Christmas"}],
    }
)
ALWAYS = calendar_24x7("Europe/Madrid")
H = 3600


def targets(urgent: int, high: int, medium: int, low: int, business: bool = True) -> dict[str, Any]:
    hours = {"urgent": urgent, "high": high, "medium": medium, "low": low}
    return {p: {"seconds": s, "business": business} for p, s in hours.items()}


BASE: dict[str, Any] = {
    "id": "standard",
    "version": 1,
    "name": "Standard",
    "calendar_id": "office",
    "targets": {
        "first_response": targets(1 * H, 4 * H, 8 * H, 24 * H),
        "next_response": targets(H // 2, 2 * H, 4 * H, 8 * H),
        "first_resolution": targets(8 * H, 24 * H, 72 * H, 120 * H),
        "resolution": targets(8 * H, 24 * H, 72 * H, 120 * H),
    },
}


def policy(**changes: Any) -> Policy:
    return Policy.from_dict({**BASE, **changes})


STANDARD = policy()
RESTART = policy(priority_change="restart")
KEEP = policy(priority_change="keep")
PERIODIC = policy(targets={**BASE["targets"], "periodic_update": targets(H, 2 * H, 4 * H, 8 * H)})
ESCALATING = policy(
    escalations=[
        {"trigger": "warning", "actions": {"emit": "sla.warning"}, "metrics": ["first_response"]},
        {"trigger": "breach", "actions": {"set_priority": "urgent"}, "metrics": ["first_response"]},
        {"trigger": "breach+3600", "actions": {"set_assignee": "lead"}, "metrics": ["first_response"]},
    ]
)
FAST_RESOLUTION = policy(
    version=2,
    targets={
        **BASE["targets"],
        "first_resolution": targets(H, 4 * H, 8 * H, 24 * H),
        "resolution": targets(H, 4 * H, 8 * H, 24 * H),
    },
)
CALENDAR_TIME = policy(targets={"first_response": targets(H, 4 * H, 8 * H, 24 * H, business=False)})
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


# --- building and reading stories ---


def at(text: str) -> datetime:
    """A Madrid wall-clock time 'YYYY-MM-DD HH:MM[:SS]' as a UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=MADRID).astimezone(UTC)


def local(value: datetime | None) -> str:
    if value is None:
        return "-"
    t = value.astimezone(MADRID)
    return t.strftime("%a %d %H:%M:%S" if t.second or t.microsecond else "%a %d %H:%M")


def story(*lines: str) -> TicketFacts:
    """Lines 'YYYY-MM-DD HH:MM action [arg]'. The first creates: 'create <priority> [<status>]'.

    Actions: agent, customer, note (messages), status <s>, priority <p>, assignee <a>, delete.
    """
    versions: list[TicketVersion] = []
    messages: list[Message] = []
    data: dict[str, Any] = {}
    for n, line in enumerate(lines):
        day, clock, action, *arg = line.split()
        when = at(f"{day} {clock}")
        if action == "create":
            data = {"subject": "s", "priority": arg[0], "status": arg[1] if len(arg) > 1 else "open"}
            versions.append(TicketVersion(when, dict(data)))
        elif action in ("agent", "customer", "note"):
            messages.append(Message(f"m{n}", when, action))
        elif action == "delete":
            versions.append(TicketVersion(when, dict(data), deleted=True))
        else:
            data[action] = arg[0]
            versions.append(TicketVersion(when, dict(data)))
    return TicketFacts("t1", tuple(versions), tuple(messages), None)


def run(facts: TicketFacts, now: str, p: Policy | None = STANDARD, calendar: Calendar = OFFICE) -> Evaluation:
    return evaluate(facts, [PolicyEra(LONG_AGO, p, calendar)], at(now))


def summary(ev: Evaluation) -> dict[str, str]:
    """Each instance as 'state target <when> end <when> biz <elapsed business seconds>'."""
    out = {}
    for i in ev.instances:
        end = local(i.completed_at)
        out[key(i)] = f"{i.state} target {local(i.target_at)} end {end} biz {i.elapsed_business_seconds}"
    return out


def events(ev: Evaluation, *, skip: tuple[str, ...] = ("activate",)) -> list[str]:
    return [f"{local(e.at)} {e.kind} {e.metric}#{e.cycle}" for e in ev.events if e.kind not in skip]


def key(i: SlaInstance) -> str:
    """'metric#cycle', plus '/r<n>' for the n-th restart of the same obligation."""
    return f"{i.metric}#{i.cycle}" + (f"/r{i.restarts}" if i.restarts else "")


def instance(ev: Evaluation, wanted: str) -> SlaInstance:
    return next(i for i in ev.instances if key(i) == wanted)


# --- literal stories ---


@dataclass(frozen=True)
class Case:
    id: str
    lines: tuple[str, ...]
    now: str
    expected: dict[str, str]
    events: list[str] | None = None
    policy: Policy = STANDARD
    calendar: Calendar = OFFICE
    skip: tuple[str, ...] = ("activate",)


CASES = [
    Case(
        "first response within target",
        ("2026-03-02 09:00 create high", "2026-03-02 11:00 agent"),
        "2026-03-02 18:00",
        {
            "first_response#1": "achieved target Mon 02 13:00 end Mon 02 11:00 biz 7200",
            "first_resolution#1": "active target Wed 04 17:00 end - biz 28800",
            "resolution#1": "active target Wed 04 17:00 end - biz 28800",
        },
        ["Mon 02 11:00 fulfil first_response#1"],
    ),
    Case(
        "first response after target, warned first",
        ("2026-03-02 09:00 create urgent", "2026-03-02 10:30 agent"),
        "2026-03-02 12:00",
        {
            "first_response#1": "breached target Mon 02 10:00 end Mon 02 10:30 biz 5400",
            "first_resolution#1": "active target Mon 02 17:00 end - biz 10800",
            "resolution#1": "active target Mon 02 17:00 end - biz 10800",
        },
        [
            "Mon 02 09:45 warn first_response#1",
            "Mon 02 10:00 breach first_response#1",
            "Mon 02 10:30 fulfil first_response#1",
        ],
    ),
    Case(
        "a reply at the breach instant is in time",
        ("2026-03-02 09:00 create urgent", "2026-03-02 10:00 agent"),
        "2026-03-02 10:00",
        {
            "first_response#1": "achieved target Mon 02 10:00 end Mon 02 10:00 biz 3600",
            "first_resolution#1": "active target Mon 02 17:00 end - biz 3600",
            "resolution#1": "active target Mon 02 17:00 end - biz 3600",
        },
        ["Mon 02 09:45 warn first_response#1", "Mon 02 10:00 fulfil first_response#1"],
    ),
    Case(
        "reply in the evening, after closing",
        ("2026-03-02 18:00 create high", "2026-03-02 20:00 agent"),
        "2026-03-03 10:00",
        {
            "first_response#1": "achieved target Tue 03 13:00 end Mon 02 20:00 biz 0",
            "first_resolution#1": "active target Thu 05 17:00 end - biz 3600",
            "resolution#1": "active target Thu 05 17:00 end - biz 3600",
        },
    ),
    Case(
        "reply before the day opens",
        ("2026-03-03 07:00 create high", "2026-03-03 08:30 agent"),
        "2026-03-03 08:30",
        {
            "first_response#1": "achieved target Tue 03 13:00 end Tue 03 08:30 biz 0",
            "first_resolution#1": "active target Thu 05 17:00 end - biz 0",
            "resolution#1": "active target Thu 05 17:00 end - biz 0",
        },
    ),
    Case(
        "over a weekend",
        ("2026-03-06 15:00 create high", "2026-03-09 10:00 agent"),
        "2026-03-09 10:00",
        {
            "first_response#1": "achieved target Mon 09 11:00 end Mon 09 10:00 biz 10800",
            "first_resolution#1": "active target Wed 11 15:00 end - biz 10800",
            "resolution#1": "active target Wed 11 15:00 end - biz 10800",
        },
    ),
    Case(
        "created on a holiday eve, breached at now exactly",
        ("2026-12-24 16:00 create high",),
        "2026-12-28 12:00",
        {
            "first_response#1": "breached_active target Mon 28 12:00 end - biz 14400",
            "first_resolution#1": "active target Wed 30 16:00 end - biz 14400",
            "resolution#1": "active target Wed 30 16:00 end - biz 14400",
        },
        ["Mon 28 11:00 warn first_response#1", "Mon 28 12:00 breach first_response#1"],
    ),
    Case(
        "pause while waiting, resume on reopen of the conversation",
        (
            "2026-03-02 09:00 create high",
            "2026-03-02 10:00 status waiting",
            "2026-03-03 09:00 status open",
            "2026-03-03 11:00 agent",
        ),
        "2026-03-03 11:00",
        {
            "first_response#1": "achieved target Tue 03 12:00 end Tue 03 11:00 biz 10800",
            "first_resolution#1": "active target Thu 05 16:00 end - biz 10800",
            "resolution#1": "active target Thu 05 16:00 end - biz 10800",
        },
        [
            "Mon 02 10:00 pause first_response#1",
            "Mon 02 10:00 pause first_resolution#1",
            "Mon 02 10:00 pause resolution#1",
            "Tue 03 09:00 resume first_response#1",
            "Tue 03 09:00 resume first_resolution#1",
            "Tue 03 09:00 resume resolution#1",
            "Tue 03 11:00 fulfil first_response#1",
        ],
    ),
    Case(
        "reopen starts a fresh resolution cycle",
        (
            "2026-03-02 09:00 create urgent",
            "2026-03-02 09:30 agent",
            "2026-03-02 16:00 status resolved",
            "2026-03-03 10:00 status open",
        ),
        "2026-03-03 11:00",
        {
            "first_response#1": "achieved target Mon 02 10:00 end Mon 02 09:30 biz 1800",
            "first_resolution#1": "achieved target Mon 02 17:00 end Mon 02 16:00 biz 25200",
            "resolution#1": "achieved target Mon 02 17:00 end Mon 02 16:00 biz 25200",
            "resolution#2": "active target Wed 04 10:00 end - biz 3600",
        },
        [
            "Mon 02 09:00 activate first_response#1",
            "Mon 02 09:00 activate first_resolution#1",
            "Mon 02 09:00 activate resolution#1",
            "Mon 02 09:30 fulfil first_response#1",
            "Mon 02 15:00 warn first_resolution#1",
            "Mon 02 15:00 warn resolution#1",
            "Mon 02 16:00 fulfil first_resolution#1",
            "Mon 02 16:00 fulfil resolution#1",
            "Tue 03 10:00 activate resolution#2",
        ],
        skip=(),
    ),
    Case(
        "a reopen after a breached cycle does not breach instantly",
        (
            "2026-03-02 09:00 create urgent",
            "2026-03-02 09:30 agent",
            "2026-03-03 16:00 status resolved",
            "2026-03-04 09:00 status open",
        ),
        "2026-03-04 10:00",
        {
            "first_response#1": "achieved target Mon 02 10:00 end Mon 02 09:30 biz 1800",
            "first_resolution#1": "breached target Mon 02 17:00 end Tue 03 16:00 biz 54000",
            "resolution#1": "breached target Mon 02 17:00 end Tue 03 16:00 biz 54000",
            "resolution#2": "active target Wed 04 17:00 end - biz 3600",
        },
    ),
    Case(
        "priority raised, carry, already overdue: breach at the change",
        ("2026-03-02 09:00 create low", "2026-03-02 11:00 priority urgent"),
        "2026-03-02 11:30",
        {
            "first_response#1": "breached_active target Mon 02 11:00 end - biz 9000",
            "first_resolution#1": "active target Mon 02 17:00 end - biz 9000",
            "resolution#1": "active target Mon 02 17:00 end - biz 9000",
        },
        [
            "Mon 02 11:00 recompute first_response#1",
            "Mon 02 11:00 warn first_response#1",
            "Mon 02 11:00 breach first_response#1",
            "Mon 02 11:00 recompute first_resolution#1",
            "Mon 02 11:00 recompute resolution#1",
        ],
    ),
    Case(
        "priority raised, carry, in time",
        ("2026-03-02 09:00 create medium", "2026-03-02 10:00 priority high", "2026-03-02 12:00 agent"),
        "2026-03-02 12:00",
        {
            "first_response#1": "achieved target Mon 02 13:00 end Mon 02 12:00 biz 10800",
            "first_resolution#1": "active target Wed 04 17:00 end - biz 10800",
            "resolution#1": "active target Wed 04 17:00 end - biz 10800",
        },
    ),
    Case(
        "priority lowered, carry",
        ("2026-03-02 09:00 create urgent", "2026-03-02 09:30 priority low"),
        "2026-03-02 10:30",
        {
            "first_response#1": "active target Wed 04 17:00 end - biz 5400",
            "first_resolution#1": "active target Fri 20 17:00 end - biz 5400",
            "resolution#1": "active target Fri 20 17:00 end - biz 5400",
        },
        [
            "Mon 02 09:30 recompute first_response#1",
            "Mon 02 09:30 recompute first_resolution#1",
            "Mon 02 09:30 recompute resolution#1",
        ],
    ),
    Case(
        "priority lowered after a breach: the breach stays",
        ("2026-03-02 09:00 create urgent", "2026-03-02 10:30 priority low"),
        "2026-03-02 11:00",
        {
            "first_response#1": "breached_active target Mon 02 10:00 end - biz 7200",
            "first_resolution#1": "active target Fri 20 17:00 end - biz 7200",
            "resolution#1": "active target Fri 20 17:00 end - biz 7200",
        },
        [
            "Mon 02 09:45 warn first_response#1",
            "Mon 02 10:00 breach first_response#1",
            "Mon 02 10:30 recompute first_response#1",
            "Mon 02 10:30 recompute first_resolution#1",
            "Mon 02 10:30 recompute resolution#1",
        ],
    ),
    Case(
        "priority raised, restart",
        ("2026-03-02 09:00 create low", "2026-03-02 11:00 priority urgent"),
        "2026-03-02 11:30",
        {
            "first_response#1": "cancelled target Wed 04 17:00 end Mon 02 11:00 biz 7200",
            "first_resolution#1": "cancelled target Fri 20 17:00 end Mon 02 11:00 biz 7200",
            "resolution#1": "cancelled target Fri 20 17:00 end Mon 02 11:00 biz 7200",
            "first_response#1/r1": "active target Mon 02 12:00 end - biz 1800",
            "first_resolution#1/r1": "active target Tue 03 11:00 end - biz 1800",
            "resolution#1/r1": "active target Tue 03 11:00 end - biz 1800",
        },
        [
            "Mon 02 09:00 activate first_response#1",
            "Mon 02 09:00 activate first_resolution#1",
            "Mon 02 09:00 activate resolution#1",
            "Mon 02 11:00 cancel first_response#1",
            "Mon 02 11:00 activate first_response#1",
            "Mon 02 11:00 cancel first_resolution#1",
            "Mon 02 11:00 activate first_resolution#1",
            "Mon 02 11:00 cancel resolution#1",
            "Mon 02 11:00 activate resolution#1",
        ],
        policy=RESTART,
        skip=(),
    ),
    Case(
        "priority raised, keep",
        ("2026-03-02 09:00 create low", "2026-03-02 11:00 priority urgent"),
        "2026-03-02 11:30",
        {
            "first_response#1": "active target Wed 04 17:00 end - biz 9000",
            "first_resolution#1": "active target Fri 20 17:00 end - biz 9000",
            "resolution#1": "active target Fri 20 17:00 end - biz 9000",
        },
        [],
        policy=KEEP,
    ),
    Case(
        "two customer messages before the agent answers",
        (
            "2026-03-02 09:00 create high",
            "2026-03-02 09:30 agent",
            "2026-03-02 10:00 customer",
            "2026-03-02 10:30 customer",
            "2026-03-02 11:00 agent",
        ),
        "2026-03-02 11:00",
        {
            "first_response#1": "achieved target Mon 02 13:00 end Mon 02 09:30 biz 1800",
            "first_resolution#1": "active target Wed 04 17:00 end - biz 7200",
            "resolution#1": "active target Wed 04 17:00 end - biz 7200",
            "next_response#1": "achieved target Mon 02 12:00 end Mon 02 11:00 biz 3600",
            "next_response#2": "achieved target Mon 02 12:30 end Mon 02 11:00 biz 1800",
        },
    ),
    Case(
        "a customer message before the first reply is covered by first_response",
        ("2026-03-02 09:00 create high", "2026-03-02 09:10 customer", "2026-03-02 09:30 agent"),
        "2026-03-02 10:00",
        {
            "first_response#1": "achieved target Mon 02 13:00 end Mon 02 09:30 biz 1800",
            "first_resolution#1": "active target Wed 04 17:00 end - biz 3600",
            "resolution#1": "active target Wed 04 17:00 end - biz 3600",
        },
    ),
    Case(
        "an internal note is not a reply",
        ("2026-03-02 09:00 create high", "2026-03-02 09:30 note", "2026-03-02 14:00 agent"),
        "2026-03-02 14:00",
        {
            "first_response#1": "breached target Mon 02 13:00 end Mon 02 14:00 biz 18000",
            "first_resolution#1": "active target Wed 04 17:00 end - biz 18000",
            "resolution#1": "active target Wed 04 17:00 end - biz 18000",
        },
    ),
    Case(
        "periodic updates: each agent message starts the next",
        ("2026-03-02 09:00 create high", "2026-03-02 09:30 agent", "2026-03-02 11:00 agent"),
        "2026-03-02 14:00",
        {
            "first_response#1": "achieved target Mon 02 13:00 end Mon 02 09:30 biz 1800",
            "first_resolution#1": "active target Wed 04 17:00 end - biz 18000",
            "resolution#1": "active target Wed 04 17:00 end - biz 18000",
            "periodic_update#1": "achieved target Mon 02 11:30 end Mon 02 11:00 biz 5400",
            "periodic_update#2": "breached_active target Mon 02 13:00 end - biz 10800",
        },
        [
            "Mon 02 09:30 fulfil first_response#1",
            "Mon 02 11:00 fulfil periodic_update#1",
            "Mon 02 12:30 warn periodic_update#2",
            "Mon 02 13:00 breach periodic_update#2",
        ],
        policy=PERIODIC,
    ),
    Case(
        "periodic update cancelled by the solve",
        (
            "2026-03-02 09:00 create high",
            "2026-03-02 09:30 agent",
            "2026-03-02 10:00 status resolved",
        ),
        "2026-03-02 14:00",
        {
            "first_response#1": "achieved target Mon 02 13:00 end Mon 02 09:30 biz 1800",
            "first_resolution#1": "achieved target Wed 04 17:00 end Mon 02 10:00 biz 3600",
            "resolution#1": "achieved target Wed 04 17:00 end Mon 02 10:00 biz 3600",
            "periodic_update#1": "cancelled target Mon 02 11:30 end Mon 02 10:00 biz 1800",
        },
        policy=PERIODIC,
    ),
    Case(
        "an agent reply sent with the solve opens no periodic update",
        ("2026-03-02 09:00 create high", "2026-03-02 09:30 agent", "2026-03-02 09:30 status resolved"),
        "2026-03-02 14:00",
        {
            "first_response#1": "achieved target Mon 02 13:00 end Mon 02 09:30 biz 1800",
            "first_resolution#1": "achieved target Wed 04 17:00 end Mon 02 09:30 biz 1800",
            "resolution#1": "achieved target Wed 04 17:00 end Mon 02 09:30 biz 1800",
        },
        policy=PERIODIC,
    ),
    Case(
        "solved before any reply cancels first_response",
        ("2026-03-02 09:00 create high", "2026-03-02 10:00 status closed", "2026-03-02 11:00 agent"),
        "2026-03-02 12:00",
        {
            "first_response#1": "cancelled target Mon 02 13:00 end Mon 02 10:00 biz 3600",
            "first_resolution#1": "achieved target Wed 04 17:00 end Mon 02 10:00 biz 3600",
            "resolution#1": "achieved target Wed 04 17:00 end Mon 02 10:00 biz 3600",
        },
    ),
    Case(
        "a customer reply that reopens opens a next_response",
        (
            "2026-03-02 09:00 create high",
            "2026-03-02 09:30 agent",
            "2026-03-02 10:00 status resolved",
            "2026-03-02 12:00 customer",
            "2026-03-02 12:00 status open",
        ),
        "2026-03-02 13:00",
        {
            "first_response#1": "achieved target Mon 02 13:00 end Mon 02 09:30 biz 1800",
            "first_resolution#1": "achieved target Wed 04 17:00 end Mon 02 10:00 biz 3600",
            "resolution#1": "achieved target Wed 04 17:00 end Mon 02 10:00 biz 3600",
            "resolution#2": "active target Thu 05 12:00 end - biz 3600",
            "next_response#1": "active target Mon 02 14:00 end - biz 3600",
        },
    ),
    Case(
        "a customer message on a solved ticket opens nothing",
        (
            "2026-03-02 09:00 create high",
            "2026-03-02 09:30 agent",
            "2026-03-02 10:00 status resolved",
            "2026-03-02 12:00 customer",
        ),
        "2026-03-02 13:00",
        {
            "first_response#1": "achieved target Mon 02 13:00 end Mon 02 09:30 biz 1800",
            "first_resolution#1": "achieved target Wed 04 17:00 end Mon 02 10:00 biz 3600",
            "resolution#1": "achieved target Wed 04 17:00 end Mon 02 10:00 biz 3600",
        },
    ),
    Case(
        "deletion cancels what runs",
        (
            "2026-03-02 09:00 create high",
            "2026-03-02 09:30 agent",
            "2026-03-02 10:00 customer",
            "2026-03-02 10:30 delete",
            "2026-03-02 11:00 agent",
        ),
        "2026-03-02 12:00",
        {
            "first_response#1": "achieved target Mon 02 13:00 end Mon 02 09:30 biz 1800",
            "first_resolution#1": "cancelled target Wed 04 17:00 end Mon 02 10:30 biz 5400",
            "resolution#1": "cancelled target Wed 04 17:00 end Mon 02 10:30 biz 5400",
            "next_response#1": "cancelled target Mon 02 12:00 end Mon 02 10:30 biz 1800",
        },
        [
            "Mon 02 09:30 fulfil first_response#1",
            "Mon 02 10:30 cancel first_resolution#1",
            "Mon 02 10:30 cancel resolution#1",
            "Mon 02 10:30 cancel next_response#1",
        ],
    ),
    Case(
        "calendar-time target runs through the night",
        ("2026-03-02 20:00 create urgent", "2026-03-02 21:30 agent"),
        "2026-03-02 22:00",
        {"first_response#1": "breached target Mon 02 21:00 end Mon 02 21:30 biz 0"},
        [
            "Mon 02 20:45 warn first_response#1",
            "Mon 02 21:00 breach first_response#1",
            "Mon 02 21:30 fulfil first_response#1",
        ],
        policy=CALENDAR_TIME,
    ),
    Case(
        "business time across the spring DST change",
        ("2026-03-27 16:00 create high",),
        "2026-03-30 12:00",
        {
            "first_response#1": "breached_active target Mon 30 12:00 end - biz 14400",
            "first_resolution#1": "active target Wed 01 16:00 end - biz 14400",
            "resolution#1": "active target Wed 01 16:00 end - biz 14400",
        },
        ["Mon 30 11:00 warn first_response#1", "Mon 30 12:00 breach first_response#1"],
    ),
    Case(
        "calendar time across the spring DST gap: one real hour",
        ("2026-03-29 01:30 create urgent",),
        "2026-03-29 04:00",
        {"first_response#1": "breached_active target Sun 29 03:30 end - biz 0"},
        ["Sun 29 03:15 warn first_response#1", "Sun 29 03:30 breach first_response#1"],
        policy=CALENDAR_TIME,
    ),
    Case(
        "a 24x7 calendar makes business time plain time",
        ("2026-03-07 20:00 create high", "2026-03-08 01:00 agent"),
        "2026-03-08 01:00",
        {
            "first_response#1": "breached target Sun 08 00:00 end Sun 08 01:00 biz 18000",
            "first_resolution#1": "active target Sun 08 20:00 end - biz 18000",
            "resolution#1": "active target Sun 08 20:00 end - biz 18000",
        },
        calendar=ALWAYS,
    ),
    Case(
        "a priority without a target is not measured until it gets one",
        ("2026-03-02 09:00 create trivial", "2026-03-02 10:00 priority high"),
        "2026-03-02 11:00",
        {
            "first_response#1": "active target Mon 02 14:00 end - biz 3600",
            "first_resolution#1": "active target Thu 05 10:00 end - biz 3600",
            "resolution#1": "active target Thu 05 10:00 end - biz 3600",
        },
        [
            "Mon 02 10:00 activate first_response#1",
            "Mon 02 10:00 activate first_resolution#1",
            "Mon 02 10:00 activate resolution#1",
        ],
        skip=(),
    ),
    Case(
        "carry to a priority without a target cancels",
        ("2026-03-02 09:00 create high", "2026-03-02 10:00 priority trivial"),
        "2026-03-02 11:00",
        {
            "first_response#1": "cancelled target Mon 02 13:00 end Mon 02 10:00 biz 3600",
            "first_resolution#1": "cancelled target Wed 04 17:00 end Mon 02 10:00 biz 3600",
            "resolution#1": "cancelled target Wed 04 17:00 end Mon 02 10:00 biz 3600",
        },
    ),
    Case(
        "a ticket created solved measures nothing",
        ("2026-03-02 09:00 create high closed",),
        "2026-03-02 11:00",
        {},
        [],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_story(case: Case) -> None:
    ev = run(story(*case.lines), case.now, case.policy, case.calendar)
    assert summary(ev) == case.expected
    if case.events is not None:
        assert events(ev, skip=case.skip) == case.events


# --- details the table does not show ---


def test_restart_counts_incarnations() -> None:
    ev = run(
        story("2026-03-02 09:00 create low", "2026-03-02 11:00 priority urgent"), "2026-03-02 11:30", RESTART
    )
    fr = instance(ev, "first_response#1/r1")
    assert instance(ev, "first_response#1").cancel_reason == "priority_change"
    assert (fr.restarts, fr.priority, fr.started_at, fr.target_seconds) == (
        1,
        "urgent",
        at("2026-03-02 11:00"),
        H,
    )
    assert local(fr.warn_at) == "Mon 02 11:45"
    restarted = [e.details for e in ev.events if e.metric == "first_response"]
    assert [(d.get("reason"), d["restart"]) for d in restarted] == [
        ("created", 0),
        ("priority_change", 0),
        ("restart", 1),
    ]


def test_keep_stays_on_the_original_priority() -> None:
    ev = run(
        story("2026-03-02 09:00 create low", "2026-03-02 11:00 priority urgent"), "2026-03-02 11:30", KEEP
    )
    assert {i.priority for i in ev.instances} == {"low"}


def test_carry_switches_priority_and_target() -> None:
    ev = run(story("2026-03-02 09:00 create low", "2026-03-02 11:00 priority urgent"), "2026-03-02 11:30")
    fr = instance(ev, "first_response#1")
    assert (fr.priority, fr.target_seconds, fr.breached_at) == ("urgent", H, at("2026-03-02 11:00"))
    assert (fr.remaining_business_seconds, fr.remaining_calendar_seconds) == (H - 9000, -1800)
    breach = next(e for e in ev.events if e.kind == "breach")
    assert breach.details == {"target_seconds": H, "elapsed_seconds": 7200, "business": True, "restart": 0}


def test_pause_fields() -> None:
    facts = story("2026-03-02 09:00 create high", "2026-03-02 10:00 status waiting")
    fr = instance(run(facts, "2026-03-02 12:00"), "first_response#1")
    assert (fr.state, fr.paused, fr.pause_reason) == ("paused", True, "status:waiting")
    assert (fr.elapsed_business_seconds, fr.elapsed_calendar_seconds, fr.paused_seconds) == (3600, 3600, 7200)
    assert local(fr.target_at) == "Mon 02 15:00"  # if it resumed now
    assert fr.remaining_business_seconds == 3 * H


def test_era_change_rebases_running_instances_and_leaves_completed_ones() -> None:
    facts = story("2026-03-02 09:00 create high", "2026-03-02 09:30 agent")
    timeline = [
        PolicyEra(LONG_AGO, STANDARD, OFFICE),
        PolicyEra(at("2026-03-02 11:00"), FAST_RESOLUTION, OFFICE),
    ]
    ev = evaluate(facts, timeline, at("2026-03-02 12:00"))
    assert summary(ev) == {
        "first_response#1": "achieved target Mon 02 13:00 end Mon 02 09:30 biz 1800",
        "first_resolution#1": "warning target Mon 02 13:00 end - biz 10800",
        "resolution#1": "warning target Mon 02 13:00 end - biz 10800",
    }
    assert [(i.metric, i.policy_version) for i in ev.instances] == [
        ("first_response", 1),
        ("first_resolution", 2),
        ("resolution", 2),
    ]
    assert events(ev) == [
        "Mon 02 09:30 fulfil first_response#1",
        "Mon 02 11:00 recompute first_resolution#1",
        "Mon 02 11:00 recompute resolution#1",
        "Mon 02 12:00 warn first_resolution#1",
        "Mon 02 12:00 warn resolution#1",
    ]
    recompute = next(e for e in ev.events if e.kind == "recompute")
    assert recompute.details["reason"] == "policy_change"
    assert recompute.details["previous"]["target_seconds"] == 24 * H
    assert recompute.details["target_seconds"] == 4 * H


def test_era_change_that_shortens_a_target_breaches_at_the_era_start() -> None:
    facts = story("2026-03-02 09:00 create high")
    timeline = [
        PolicyEra(LONG_AGO, STANDARD, OFFICE),
        PolicyEra(at("2026-03-02 15:00"), FAST_RESOLUTION, OFFICE),
    ]
    ev = evaluate(facts, timeline, at("2026-03-02 15:00"))
    assert instance(ev, "resolution#1").breached_at == at("2026-03-02 15:00")
    assert instance(ev, "first_response#1").breached_at == at("2026-03-02 13:00")


def test_calendar_change_keeps_elapsed_and_rebases_on_the_new_calendar() -> None:
    facts = story("2026-03-06 16:00 create high")
    timeline = [PolicyEra(LONG_AGO, STANDARD, OFFICE), PolicyEra(at("2026-03-06 17:00"), STANDARD, ALWAYS)]
    ev = evaluate(facts, timeline, at("2026-03-06 18:00"))
    fr = instance(ev, "first_response#1")
    assert (fr.elapsed_business_seconds, local(fr.target_at)) == (2 * H, "Fri 06 20:00")
    assert next(e for e in ev.events if e.kind == "recompute").details["reason"] == "calendar_change"


def test_an_era_without_a_policy_cancels_and_a_later_policy_starts_afresh() -> None:
    facts = story("2026-03-02 09:00 create high")
    timeline = [
        PolicyEra(LONG_AGO, STANDARD, OFFICE),
        PolicyEra(at("2026-03-02 10:00"), None, OFFICE),
        PolicyEra(at("2026-03-02 11:00"), STANDARD, OFFICE),
    ]
    ev = evaluate(facts, timeline, at("2026-03-02 12:00"))
    assert instance(ev, "first_response#1").cancel_reason == "no_policy"
    fr = instance(ev, "first_response#1/r1")
    assert (fr.state, fr.restarts, fr.started_at, fr.elapsed_business_seconds) == (
        "active",
        1,
        at("2026-03-02 11:00"),
        H,
    )
    assert events(ev, skip=())[:6] == [
        "Mon 02 09:00 activate first_response#1",
        "Mon 02 09:00 activate first_resolution#1",
        "Mon 02 09:00 activate resolution#1",
        "Mon 02 10:00 cancel first_response#1",
        "Mon 02 10:00 cancel first_resolution#1",
        "Mon 02 10:00 cancel resolution#1",
    ]


def test_escalations_fire_at_exact_instants_once_each() -> None:
    ev = run(story("2026-03-02 09:00 create high"), "2026-03-02 16:00", ESCALATING)
    assert events(ev) == [
        "Mon 02 12:00 warn first_response#1",
        "Mon 02 12:00 escalate first_response#1",
        "Mon 02 13:00 breach first_response#1",
        "Mon 02 13:00 escalate first_response#1",
        "Mon 02 14:00 escalate first_response#1",
    ]
    steps = [e.details for e in ev.events if e.kind == "escalate"]
    assert steps == [
        {
            "step": 0,
            "restart": 0,
            "trigger": "warning",
            "actions": {"emit": "sla.warning"},
            "policy_id": "standard",
            "policy_version": 1,
        },
        {
            "step": 1,
            "restart": 0,
            "trigger": "breach",
            "actions": {"set_priority": "urgent"},
            "policy_id": "standard",
            "policy_version": 1,
        },
        {
            "step": 2,
            "restart": 0,
            "trigger": "breach+3600",
            "actions": {"set_assignee": "lead"},
            "policy_id": "standard",
            "policy_version": 1,
        },
    ]


def test_breach_plus_n_needs_the_instance_still_open() -> None:
    ev = run(story("2026-03-02 09:00 create high", "2026-03-02 13:30 agent"), "2026-03-02 16:00", ESCALATING)
    assert [e.details["step"] for e in ev.events if e.kind == "escalate"] == [0, 1]


def test_breach_plus_n_is_wall_clock_time_and_fires_while_closed() -> None:
    ev = run(story("2026-03-02 14:00 create high"), "2026-03-03 12:00", ESCALATING)
    assert events(ev) == [
        "Mon 02 17:00 warn first_response#1",  # 3 of 4 business hours: the window's end, not Tuesday 09:00
        "Mon 02 17:00 escalate first_response#1",
        "Tue 03 10:00 breach first_response#1",
        "Tue 03 10:00 escalate first_response#1",
        "Tue 03 11:00 escalate first_response#1",
    ]


@pytest.mark.parametrize(
    ("now", "next_due"),
    [
        ("2026-03-02 08:00", None),  # not created yet
        ("2026-03-02 09:00", "Mon 02 12:00"),  # the warning (and its escalation)
        ("2026-03-02 12:00", "Mon 02 13:00"),  # the breach
        ("2026-03-02 13:30", "Mon 02 14:00"),  # breach + 1 h
        ("2026-03-02 14:00", "Wed 04 11:00"),  # resolution warnings at 18 of 24 business hours
        ("2026-03-06 16:00", None),  # everything breached, nothing left to fire
    ],
)
def test_next_due(now: str, next_due: str | None) -> None:
    ev = run(story("2026-03-02 09:00 create high"), now, ESCALATING)
    assert (local(ev.next_due) if ev.next_due else None) == next_due


def test_next_due_ignores_paused_clocks() -> None:
    ev = run(story("2026-03-02 09:00 create high", "2026-03-02 09:30 status waiting"), "2026-03-02 10:00")
    assert ev.next_due is None


def test_metrics_for_a_full_story() -> None:
    facts = story(
        "2026-03-02 09:00 create high",
        "2026-03-02 09:05 note",
        "2026-03-02 09:10 assignee ann",
        "2026-03-02 10:00 agent",
        "2026-03-02 10:00 status in_progress",
        "2026-03-02 11:00 status waiting",
        "2026-03-03 09:00 customer",
        "2026-03-03 09:00 status open",
        "2026-03-03 09:30 assignee bob",
        "2026-03-03 10:00 agent",
        "2026-03-03 10:00 status resolved",
        "2026-03-04 09:00 customer",
        "2026-03-04 09:00 status open",
        "2026-03-04 11:00 agent",
        "2026-03-04 12:00 status closed",
    )
    ev = run(facts, "2026-03-05 12:00")
    assert ev.metrics == TicketMetrics(
        first_response_at=at("2026-03-02 10:00"),
        first_response_seconds_calendar=H,
        first_response_seconds_business=H,
        agent_replies=3,
        customer_replies=2,
        internal_notes=1,
        last_agent_message_at=at("2026-03-04 11:00"),
        last_customer_message_at=at("2026-03-04 09:00"),
        awaiting=None,
        reopens=1,
        first_resolved_at=at("2026-03-03 10:00"),
        resolved_at=at("2026-03-04 12:00"),
        full_resolution_seconds_calendar=51 * H,
        full_resolution_seconds_business=19 * H,
        requester_wait_seconds=6 * H,
        on_hold_seconds=22 * H,
        agent_work_seconds=H,
        status_seconds={
            "open": 5 * H,
            "in_progress": H,
            "waiting": 22 * H,
            "resolved": 23 * H,
            "closed": 24 * H,
        },
        assignee_changes=2,
        one_touch=False,
    )
    assert summary(ev)["resolution#2"] == "achieved target Fri 06 17:00 end Wed 04 12:00 biz 10800"


@pytest.mark.parametrize(
    ("lines", "awaiting", "one_touch"),
    [
        (("2026-03-02 09:00 create high",), "agent", False),
        (("2026-03-02 09:00 create high", "2026-03-02 09:30 agent"), "customer", False),
        (
            ("2026-03-02 09:00 create high", "2026-03-02 09:30 agent", "2026-03-02 09:40 note"),
            "customer",
            False,
        ),
        (
            ("2026-03-02 09:00 create high", "2026-03-02 09:30 agent", "2026-03-02 09:40 customer"),
            "agent",
            False,
        ),
        (
            ("2026-03-02 09:00 create high", "2026-03-02 09:30 agent", "2026-03-02 09:40 status resolved"),
            None,
            True,
        ),
        (("2026-03-02 09:00 create high", "2026-03-02 09:30 delete"), None, False),
    ],
)
def test_awaiting_and_one_touch(lines: tuple[str, ...], awaiting: str | None, one_touch: bool) -> None:
    metrics = run(story(*lines), "2026-03-02 10:00").metrics
    assert (metrics.awaiting, metrics.one_touch) == (awaiting, one_touch)


def test_removed_messages_are_ignored_entirely() -> None:
    facts = story("2026-03-02 09:00 create high")
    removed = Message("m9", at("2026-03-02 09:30"), "agent", "ann", removed_at=at("2026-03-02 12:00"))
    facts = TicketFacts("t1", facts.versions, (removed,), None)
    ev = run(facts, "2026-03-02 11:00")
    assert instance(ev, "first_response#1").state == "active"
    assert ev.metrics.agent_replies == 0


def test_a_message_stamped_before_creation_counts_at_creation() -> None:
    facts = story("2026-03-02 09:00 create high")
    early = Message("m0", at("2026-03-02 08:59"), "agent")
    ev = run(TicketFacts("t1", facts.versions, (early,), None), "2026-03-02 10:00")
    assert instance(ev, "first_response#1").completed_at == at("2026-03-02 09:00")
    assert ev.metrics.first_response_seconds_calendar == 0


def test_inputs_after_now_are_ignored_and_before_creation_nothing_exists() -> None:
    facts = story("2026-03-02 09:00 create high", "2026-03-02 10:00 agent")
    assert instance(run(facts, "2026-03-02 09:30"), "first_response#1").state == "active"
    empty = run(facts, "2026-03-02 08:00")
    assert (empty.instances, empty.events, empty.metrics, empty.next_due) == ((), (), TicketMetrics(), None)


def test_to_dict_is_json_with_z_milliseconds() -> None:
    ev = run(
        story("2026-03-02 09:00 create high", "2026-03-02 11:00:00.250 agent"), "2026-03-02 12:00", ESCALATING
    )
    wire = json.loads(json.dumps(ev.to_dict()))
    fr = wire["instances"][0]
    assert fr["completed_at"] == "2026-03-02T10:00:00.250Z"
    assert fr["started_at"] == "2026-03-02T08:00:00.000Z"
    assert wire["events"][0] == {
        "metric": "first_response",
        "cycle": 1,
        "kind": "activate",
        "at": "2026-03-02T08:00:00.000Z",
        "details": {
            "reason": "created",
            "policy_id": "standard",
            "policy_version": 1,
            "priority": "high",
            "target_seconds": 14400,
            "business": True,
            "restart": 0,
        },
    }
    assert wire["metrics"]["status_seconds"] == {"open": 3 * H}
    assert wire["next_due"] == "2026-03-04T10:00:00.000Z"  # resolution warning, Wed 11:00 Madrid


def test_sub_second_instants_are_exact() -> None:
    facts = story("2026-03-02 09:00:00.400 create urgent")
    ev = run(facts, "2026-03-02 10:00:00.400")
    fr = instance(ev, "first_response#1")
    assert fr.breached_at == at("2026-03-02 10:00:00.400")
    assert fr.warn_at == at("2026-03-02 09:45:00.400")


@pytest.mark.parametrize(
    ("timeline", "message"),
    [
        ([], "at least one era"),
        ([PolicyEra(at("2026-03-02 10:00"), STANDARD, OFFICE)], "at or before the ticket's creation"),
        (
            [PolicyEra(at("2026-03-02 08:00"), STANDARD, OFFICE), PolicyEra(LONG_AGO, STANDARD, OFFICE)],
            "sorted",
        ),
    ],
)
def test_bad_timelines_are_rejected(timeline: list[PolicyEra], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate(story("2026-03-02 09:00 create high"), timeline, at("2026-03-02 12:00"))


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(
            story("2026-03-02 09:00 create high"),
            [PolicyEra(LONG_AGO, STANDARD, OFFICE)],
            datetime(2026, 3, 2),
        )


# --- properties over random stories ---

ACTIONS = ("agent", "customer", "note", "status", "priority", "assignee")
STATUSES = ("open", "in_progress", "waiting", "resolved", "closed")
PRIORITIES = ("urgent", "high", "medium", "low", "trivial")
POLICIES = (
    STANDARD,
    RESTART,
    KEEP,
    PERIODIC,
    ESCALATING,
    CALENDAR_TIME,
    FAST_RESOLUTION,
    policy(warn_before_seconds=900),
)
START = at("2026-03-05 14:00")


@dataclass(frozen=True)
class Story:
    facts: TicketFacts
    timeline: list[PolicyEra] = field(hash=False)
    inputs: tuple[datetime, ...]
    end: datetime


@st.composite
def stories(draw: st.DrawFn) -> Story:
    created = START + timedelta(minutes=draw(st.integers(0, 3000)))
    data = {
        "status": draw(st.sampled_from(("open", "open", "waiting", "resolved"))),
        "priority": draw(st.sampled_from(PRIORITIES)),
    }
    versions = [TicketVersion(created, dict(data))]
    messages: list[Message] = []
    t = created
    for n in range(draw(st.integers(0, 12))):
        t += timedelta(
            minutes=draw(st.sampled_from((0, 0, 7, 30, 95, 240, 900, 2000))),
            milliseconds=draw(st.sampled_from((0, 0, 250))),
        )
        action = draw(st.sampled_from((*ACTIONS, "status", "status")))
        if action in ("agent", "customer", "note"):
            messages.append(Message(f"m{n}", t, action))
        elif action == "status":
            data["status"] = draw(st.sampled_from(STATUSES))
            versions.append(TicketVersion(t, dict(data)))
        elif action == "priority":
            data["priority"] = draw(st.sampled_from(PRIORITIES))
            versions.append(TicketVersion(t, dict(data)))
        else:
            data["assignee"] = draw(st.sampled_from(("ann", "bob")))
            versions.append(TicketVersion(t, dict(data)))
    if draw(st.integers(0, 9)) == 0:
        t += timedelta(minutes=draw(st.integers(0, 600)))
        versions.append(TicketVersion(t, dict(data), deleted=True))
    timeline = [
        PolicyEra(LONG_AGO, draw(st.sampled_from(POLICIES)), draw(st.sampled_from((OFFICE, OFFICE, ALWAYS))))
    ]
    for _ in range(draw(st.integers(0, 2))):
        when = created + timedelta(minutes=draw(st.integers(-60, 6000)))
        if when > timeline[-1].effective_from:
            choice = draw(st.sampled_from((*POLICIES, None)))
            timeline.append(PolicyEra(when, choice, draw(st.sampled_from((OFFICE, ALWAYS)))))
    inputs = tuple(
        sorted({v.at for v in versions} | {m.at for m in messages} | {e.effective_from for e in timeline[1:]})
    )
    return Story(
        TicketFacts("t", tuple(versions), tuple(messages), None),
        timeline,
        inputs,
        max(t, created) + timedelta(days=9),
    )


PROPERTY = settings(max_examples=300, deadline=None, database=None)


def business_between(s: Story, a: datetime, b: datetime) -> float:
    """Business seconds in [a, b) on each era's calendar, summed exactly from the calendar's own windows."""
    total = timedelta(0)
    eras = s.timeline
    for i, era in enumerate(eras):
        lo = max(a, era.effective_from)
        hi = min(b, eras[i + 1].effective_from) if i + 1 < len(eras) else b
        total += (
            sum((e - w for w, e in era.calendar.windows(lo, hi)), timedelta(0)) if lo < hi else timedelta(0)
        )
    return total.total_seconds()


@PROPERTY
@given(stories(), st.floats(0, 1))
def test_invariants(s: Story, fraction: float) -> None:
    now = s.facts.versions[0].at + (s.end - s.facts.versions[0].at) * fraction
    ev = evaluate(s.facts, s.timeline, now)
    times = [e.at for e in ev.events]
    assert times == sorted(times)
    assert all(t <= now for t in times)
    keys = [(i.metric, i.cycle, i.restarts) for i in ev.instances]
    assert len(keys) == len(set(keys))
    for i in ev.instances:
        assert 0 <= i.elapsed_business_seconds <= i.elapsed_calendar_seconds
        assert i.started_at <= (i.completed_at or now)
        wall = ((i.completed_at or now) - i.started_at).total_seconds()
        assert i.elapsed_calendar_seconds + i.paused_seconds <= wall + 1
        if i.state == "achieved":
            assert i.completed_at is not None and i.completed_at <= i.target_at
        if i.breached_at is not None:
            assert i.state in ("breached", "breached_active")
            assert i.target_at == i.breached_at
            # A breach found by the clock running out comes strictly before any ending; only one recorded
            # at a change instant (target shortened by a priority or policy change) may share that instant.
            assert i.completed_at is None or i.completed_at >= i.target_at
        if i.state in ("active", "warning", "paused", "breached_active"):
            assert i.completed_at is None
    for e in ev.events:
        if e.kind == "breach":
            start = next(
                x.at
                for x in reversed(ev.events)
                if x.kind == "activate" and (x.metric, x.cycle) == (e.metric, e.cycle) and x.at <= e.at
            )
            ran = (
                business_between(s, start, e.at) if e.details["business"] else (e.at - start).total_seconds()
            )
            assert e.details["elapsed_seconds"] >= e.details["target_seconds"]
            assert ran >= e.details["target_seconds"]  # never breaches before start + target on its clock
            same_instant = {
                x.kind for x in ev.events if x.at == e.at and (x.metric, x.cycle) == (e.metric, e.cycle)
            }
            if same_instant & {"fulfil", "cancel"}:
                assert "recompute" in same_instant  # only a breach recorded at a target change can tie
    if ev.next_due is not None:
        assert ev.next_due > now


@PROPERTY
@given(stories(), st.floats(0, 1), st.floats(0, 1))
def test_replay_equals_live(s: Story, f1: float, f2: float) -> None:
    """Evaluating later never rewrites the past: earlier events are a prefix, completed instances are final."""
    created = s.facts.versions[0].at
    t1, t2 = sorted((created + (s.end - created) * f1, created + (s.end - created) * f2))
    early, late = evaluate(s.facts, s.timeline, t1), evaluate(s.facts, s.timeline, t2)
    assert list(early.events) == [e for e in late.events if e.at <= t1]
    late_by_key = {(i.metric, i.cycle, i.restarts): i for i in late.instances}
    for i in early.instances:
        if i.completed_at is not None:
            assert late_by_key[(i.metric, i.cycle, i.restarts)] == i
    # The scheduler's promise: with no input in between, something fires exactly at next_due.
    due = early.next_due
    if due is not None and not any(t1 < x <= due for x in s.inputs):
        fired = evaluate(s.facts, s.timeline, due)
        new = [e for e in fired.events if e.at > t1]
        assert new and all(e.kind in ("warn", "breach", "escalate") for e in new)
        assert {e.at for e in new} == {due}


NIGHTS = Calendar.from_dict(
    {
        "timezone": "Europe/Madrid",
        "weekly": {"fri": [["22:00", "06:00"]], "sat": [["01:00", "03:30"]], "sun": [["00:00", "24:00"]]},
        "overrides": [{"date": "2026-03-30", "intervals": [["10:00", "10:30"]]}],
    }
)


@PROPERTY
@given(
    st.sampled_from((OFFICE, NIGHTS)),
    st.integers(0, 60 * 24 * 60),
    st.sampled_from((0, 0, 250, 999)),
    st.integers(0, 200 * H),
)
def test_the_replay_index_agrees_with_the_calendar(
    cal: Calendar, minutes: int, ms: int, seconds: int
) -> None:
    """The evaluator's open-time index is only a faster view of Calendar: both give the same instants."""
    from deskbase.support.fold.open_time import micros, work_on  # this pins the index to the calendar

    start = at("2026-03-01 00:00") + timedelta(minutes=minutes, milliseconds=ms)
    work = work_on(cal)
    a = micros(start, "start")
    deadline = cal.add_business(start, seconds)
    assert work.advance(a, seconds * 1_000_000) == micros(deadline, "deadline")
    assert work.between(a, micros(deadline, "deadline")) == seconds * 1_000_000
    later = start + timedelta(seconds=seconds)
    assert work.between(a, micros(later, "later")) // 1_000_000 == cal.business_between(start, later)
