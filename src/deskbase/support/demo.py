"""Realistic demo data for the support template: customers on free/pro/enterprise plans, tickets spread over
weeks with conversations (customer replies, agent replies, internal notes) and status histories.

Everything is written through the batch API in import mode, with each change dated when it "happened", so
history, SLA clocks and SQL reports see a plausible past. Deterministic for a given seed and `now`.

The story is told backwards from `now`, on the workspace's business calendar and the template's SLA targets,
so the SLA picture is a healthy team's: most tickets solved (their first reply mostly in time), and of the
tickets still being worked on most on track, some at risk (due within hours) and a few breached, by hours
rather than weeks (`FATES` holds the target shares; a test checks them).
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.support.calendar import Calendar
from deskbase.support.demo_text import (
    AGENT_LINES,
    AGENTS,
    COMPANIES,
    CUSTOMER_LINES,
    FIRST,
    LAST,
    MACROS,
    NOTES,
    SUBJECTS,
    WEIGHTS_PLAN,
    WEIGHTS_PRIORITY,
)
from deskbase.support.policy import default_policy
from deskbase.support.sla_config import default_calendar

SOURCE = "demo"


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


def _pick_share(rng: random.Random, shares: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([w[0] for w in shares], [w[1] for w in shares])[0]


@dataclass
class DemoSize:
    tickets: int = 2000
    customers: int = 400
    weeks: int = 8


def _office_time(rng: random.Random, start: datetime, span: timedelta) -> datetime:
    """A moment inside `span`, biased to weekday office hours like real ticket traffic."""
    for _ in range(20):
        t = start + timedelta(seconds=rng.uniform(0, span.total_seconds()))
        if (t.weekday() < 5 and 8 <= t.hour < 19) or rng.random() < 0.15:
            return t.replace(microsecond=0)
    return t.replace(microsecond=0)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _customer_ops(rng: random.Random, n: int, start: datetime) -> list[dict[str, Any]]:
    ops = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = rng.choice(COMPANIES)
        domain = company.lower().replace(" ", "") + ".example"
        ops.append(
            {
                "type": "upsert_record",
                "collection": "customers",
                "external_source": SOURCE,
                "external_id": f"C-{i + 1:05d}",
                "at": iso(start),
                "created_at": iso(start),
                "data": {
                    "name": f"{first} {last}",
                    "email": f"{_ascii(first)}.{_ascii(last)}.{i}@{domain}",
                    "plan": _pick(rng, WEIGHTS_PLAN),
                    "company": company,
                },
            }
        )
    return ops


#: What becomes of the tickets still being worked on, as target shares: waiting on the customer (clocks
#: paused), on track (due in more than 2 h), at risk (due within 2 h, not breached) and breached.
FATES = (("waiting", 0.12), ("on_track", 0.70), ("at_risk", 0.11), ("breached", 0.07))
#: the share of tickets still being worked on at `now` (the rest are solved): about a few days' traffic
UNSOLVED_SHARE = 0.12
#: solved tickets whose first reply met its target (the rest missed it by 5-60 %)
MET_SHARE = 0.9
#: a breached demo ticket is late by at most this much business time
BREACHED_BY_MAX = 12 * 3600
HOUR = 3600


def _before(cal: Calendar, end: datetime, seconds: int) -> datetime:
    """The latest instant with `seconds` business seconds between it and `end` (the calendar only adds)."""
    lo, hi = end - timedelta(days=7 + seconds // 3600), end
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if cal.business_between(mid, end) >= seconds:
            lo = mid
        else:
            hi = mid
    return lo.replace(microsecond=0)


@dataclass(frozen=True)
class Targets:
    """The template's SLA targets (business seconds per priority) on the workspace's calendar."""

    cal: Calendar
    first_response: dict[str, int]
    resolution: dict[str, int]

    @classmethod
    def of(cls, timezone: str) -> Targets:
        policy = default_policy("business-hours")  # only its targets are read
        return cls(
            Calendar.from_dict(default_calendar(timezone)),
            {p: t.seconds for p, t in policy.targets["first_response"].items()},
            {p: t.seconds for p, t in policy.targets["resolution"].items()},
        )

    def after(self, start: datetime, seconds: float) -> datetime:
        return self.cal.add_business(start, max(0, int(seconds)))


Step = tuple[str, datetime]


def _solved_story(
    rng: random.Random, created: datetime, priority: str, tg: Targets, now: datetime
) -> list[Step]:
    """A ticket solved before `now`: the first reply mostly within its target, then maybe a note, a wait and
    the customer's answer, solved within the resolution target; a long story told close to `now` is told faster."""
    fr, res = tg.first_response[priority], tg.resolution[priority]
    met = rng.random() < MET_SHARE
    reply = tg.after(created, fr * (rng.uniform(0.1, 0.9) if met else rng.uniform(1.05, 1.6)))
    solve = max(reply + timedelta(minutes=5), tg.after(created, res * rng.uniform(0.2, 0.9)))
    middle = rng.choice([[], ["note"], ["wait", "customer", "reply"], ["note", "customer", "reply"]])
    span = solve - reply
    steps: list[Step] = [("reply", reply)]
    steps += [(kind, reply + span * (n + 1) / (len(middle) + 1)) for n, kind in enumerate(middle)]
    steps.append(("resolve", solve))
    last = now - timedelta(minutes=rng.uniform(10, 90))
    if solve > last:  # squeeze the story into the time there was
        scale = max((last - created) / (solve - created), 0.01)
        steps = [(kind, created + (at - created) * scale) for kind, at in steps]
    later = steps[-1][1] + timedelta(days=rng.uniform(1, 4))
    if later < now and rng.random() < 0.7:
        steps.append(("close", later))
    told: list[Step] = []
    for kind, at in steps:  # a minute apart at least, so the history's order is the order in time
        at = max(at.replace(microsecond=0), (told[-1][1] if told else created) + timedelta(minutes=1))
        if at < now:
            told.append((kind, at))
    return told


def _unsolved_story(
    rng: random.Random, fate: str, priority: str, tg: Targets, now: datetime
) -> tuple[datetime, list[Step]]:
    """(created, steps) of a ticket still open at `now`, placed so its most urgent clock has `fate`."""
    fr, res = tg.first_response[priority], tg.resolution[priority]
    if fate == "at_risk":  # no reply yet, the first reply due within 2 h of business time
        due = tg.after(now, rng.uniform(10 * 60, min(100 * 60, fr - 300)))
        return _before(tg.cal, due, fr), []
    if fate == "breached":  # no reply, the first reply late by up to BREACHED_BY_MAX
        due = _before(tg.cal, now, int(rng.uniform(15 * 60, min(BREACHED_BY_MAX, 3 * fr))))
        return _before(tg.cal, due, fr), []
    if fate == "on_track" and fr > 3 * HOUR and rng.random() < 0.4:  # fresh, the first reply not yet due
        due = tg.after(now, rng.uniform(2.5 * HOUR, fr * 0.95))
        return _before(tg.cal, due, fr), []
    # replied in time; on track to be solved (or waiting on the customer, clocks paused)
    due = tg.after(now, rng.uniform(2.5 * HOUR, res * 0.9))
    created = _before(tg.cal, due, res)
    reply = tg.after(created, fr * rng.uniform(0.1, 0.8))
    if reply >= now:
        return created, []
    steps: list[Step] = [("reply", reply)]
    if fate == "waiting":
        steps.append(("wait", reply + (now - reply) * rng.uniform(0.1, 0.9)))
    return created, [(kind, at.replace(microsecond=0)) for kind, at in steps]


def _ticket_ops(
    rng: random.Random, i: int, customer: dict[str, Any], created: datetime, priority: str, steps: list[Step]
) -> list[dict[str, Any]]:
    """One ticket's whole story, in time order: creation, replies, notes and status changes."""
    category = rng.choice(list(SUBJECTS))
    ref = f"t{i}"
    tid = f"$ref:{ref}"
    email = customer["data"]["email"]
    data = {
        "subject": rng.choice(SUBJECTS[category]),
        "description": f"{rng.choice(CUSTOMER_LINES)} (reported by {customer['data']['name']})",
        "status": "open",
        "priority": priority,
        "category": category,
        "channel": rng.choice(["email", "email", "chat", "web", "phone"]),
        "tags": rng.sample(
            ["vip", "regression", "onboarding", "api", "mobile", "invoice", "sso"], rng.randint(0, 2)
        ),
    }
    if steps or rng.random() < 0.6:
        data["assignee"] = rng.choice(AGENTS)
    ops: list[dict[str, Any]] = [
        {
            "type": "upsert_record",
            "collection": "tickets",
            "ref": ref,
            "external_source": SOURCE,
            "external_id": f"T-{i + 1:05d}",
            "at": iso(created),
            "created_at": iso(created),
            "data": data,
        },
        {
            "type": "upsert_relationship",
            "rel_type": "submitted_by",
            "at": iso(created),
            "source": {"collection": "tickets", "id": tid},
            "target": {"collection": "customers", "id": f"$ref:c:{customer['external_id']}"},
        },
    ]
    n_resp = 0

    def respond(kind: str, author: str, body: str, at: datetime) -> None:
        nonlocal n_resp
        n_resp += 1
        rref = f"{ref}r{n_resp}"
        ops.append(
            {
                "type": "upsert_record",
                "collection": "responses",
                "ref": rref,
                "at": iso(at),
                "created_at": iso(at),
                "external_source": SOURCE,
                "external_id": f"T-{i + 1:05d}-R{n_resp}",
                "data": {"body": body, "type": kind, "author": author, "timestamp": iso(at)},
            }
        )
        ops.append(
            {
                "type": "upsert_relationship",
                "rel_type": "has_response",
                "at": iso(at),
                "source": {"collection": "tickets", "id": tid},
                "target": {"collection": "responses", "id": f"$ref:{rref}"},
            }
        )

    def status(value: str, at: datetime) -> None:
        ops.append(
            {
                "type": "patch_record",
                "collection": "tickets",
                "id": tid,
                "at": iso(at),
                "data": {"status": value},
            }
        )

    agent: str = str(data.get("assignee") or rng.choice(AGENTS))
    for step, t in steps:
        if step == "reply":
            respond("reply", agent, rng.choice(AGENT_LINES), t)
            status("in_progress", t)
        elif step == "note":
            respond("internal_note", agent, rng.choice(NOTES), t)
        elif step == "customer":
            respond("reply", email, rng.choice(CUSTOMER_LINES), t)
        elif step == "wait":
            status("waiting", t)
        elif step == "resolve":
            status("resolved", t)
        elif step == "close":
            status("closed", t)
    return ops


def _pack(groups: Iterator[list[dict[str, Any]]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for g in groups:
        if batch and len(batch) + len(g) > size:
            yield batch
            batch = []
        batch.extend(g)
    if batch:
        yield batch


def load(
    core: Deskbase, workspace_id: str, actor: Actor, size: DemoSize | None = None, seed: int = 42
) -> dict[str, int]:
    """Apply the support template and load demo data, unless the workspace already holds tickets."""
    size = size or DemoSize()
    core.templates.apply(workspace_id, "support", actor)
    if core.records.query(workspace_id, "tickets", limit=1)["data"]:
        return {"tickets": 0, "customers": 0, "skipped": 1}
    rng = random.Random(seed)
    now = core.clock.now()
    core.batch.run(
        workspace_id, [{"type": "upsert_record", "collection": "macros", "data": m} for m in MACROS], actor
    )
    start = now - timedelta(weeks=size.weeks)
    customers = _customer_ops(rng, size.customers, start - timedelta(days=30))
    id_of: dict[str, str] = {}
    for chunk in _pack(iter([[c] for c in customers]), core.settings.max_batch_operations):
        for r in core.batch.run(workspace_id, chunk, actor)["results"]:
            id_of[r["record"]["external_id"]] = r["record"]["id"]
    targets = Targets.of(core.workspaces.get(workspace_id)["settings"].get("timezone", "UTC"))
    unsolved = round(size.tickets * UNSOLVED_SHARE)
    stories: list[tuple[datetime, str, list[Step]]] = []
    for _ in range(size.tickets - unsolved):
        created, priority = (
            _office_time(rng, start, now - start - timedelta(hours=2)),
            _pick(rng, WEIGHTS_PRIORITY),
        )
        stories.append((created, priority, _solved_story(rng, created, priority, targets, now)))
    for _ in range(unsolved):
        fate, priority = _pick_share(rng, FATES), _pick(rng, WEIGHTS_PRIORITY)
        created, steps = _unsolved_story(rng, fate, priority, targets, now)
        stories.append((created, priority, steps))
    stories.sort(key=lambda story: story[0])

    def tickets() -> Iterator[list[dict[str, Any]]]:
        for i, (created, priority, steps) in enumerate(stories):
            cust = rng.choice(customers)
            ops = _ticket_ops(rng, i, cust, created, priority, steps)
            ops[1]["target"]["id"] = id_of[cust["external_id"]]
            yield ops

    total = 0
    for chunk in _pack(tickets(), core.settings.max_batch_operations):
        core.batch.run(workspace_id, chunk, actor)
        total += len(chunk)
    return {"tickets": size.tickets, "customers": size.customers, "operations": total + len(customers)}
