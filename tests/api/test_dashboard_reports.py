"""The lead dashboard's stored reports run on the SQL replica and agree with numbers worked out here, from what
the test did and from the primary store (record history, the SLA service's own evaluation): created vs solved
per day with the backlog, first-response times, SLA attainment by plan, tickets by weekday and hour.

The workspace is in New York, so local days and hours differ from UTC ones; a deleted ticket, reopened tickets
(once, twice, before the period), a ticket created already solved and tickets without a customer or a plan
are among the cases."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from deskbase.core.clock import FixedClock, iso
from deskbase.support.service import SlaService
from tests.conftest import Api

W = "/v1/workspaces/acme"
TZ = "America/New_York"
NY = ZoneInfo(TZ)
NOW = datetime(2026, 2, 20, 15, 0, tzinfo=UTC)  # 10:00 in New York
#: the last 7 days in New York, today included: from local midnight on 14 Feb
START = datetime(2026, 2, 14, tzinfo=NY).astimezone(UTC)
UNSOLVED = {"open", "in_progress", "waiting"}
SOLVED = {"resolved", "closed"}


def feb(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 2, day, hour, minute, tzinfo=UTC)


def run(api: Api, name: str, **params: str) -> list[dict[str, Any]]:
    r = api.post(f"{W}/queries/{name}/run", json={"params": params})
    assert r.status_code == 200, r.text
    names = [m["name"] for m in r.json()["meta"]]
    return [dict(zip(names, row, strict=True)) for row in r.json()["data"]]


@dataclass
class Story:
    """Drives the API at chosen instants and keeps its own account of every ticket's statuses."""

    api: Api
    clock: FixedClock
    ids: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    def at(self, when: datetime) -> None:
        self.clock.set(when)

    def create(self, key: str, when: datetime, status: str = "open", priority: str = "high") -> str:
        self.at(when)
        body = {"data": {"subject": f"ticket {key}", "status": status, "priority": priority}}
        r = self.api.post(f"{W}/records/tickets", json=body)
        assert r.status_code == 201, r.text
        self.ids[key] = r.json()["id"]
        self.statuses[key] = [(when, status)]
        return self.ids[key]

    def status(self, key: str, when: datetime, status: str) -> None:
        self.at(when)
        r = self.api.patch(f"{W}/records/tickets/{self.ids[key]}", json={"data": {"status": status}})
        assert r.status_code == 200, r.text
        self.statuses[key].append((when, status))

    def reply(self, key: str, when: datetime) -> None:
        self.at(when)
        r = self.api.post(f"{W}/tickets/{self.ids[key]}/responses", json={"body": "on it"})
        assert r.status_code == 201, r.text

    def delete(self, key: str, when: datetime) -> None:
        self.at(when)
        assert self.api.delete(f"{W}/records/tickets/{self.ids[key]}").status_code in (200, 204)
        self.deleted.add(key)


def workspace(api: Api, clock: FixedClock) -> Story:
    clock.set(feb(1, 9))
    assert api.put(W, json={"name": "Acme", "settings": {"timezone": TZ}}).status_code == 201
    assert api.post(f"{W}/templates/support").status_code == 200
    return Story(api, clock)


def local_day(at: datetime) -> date:
    return at.astimezone(NY).date()


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=NY).astimezone(UTC)


def expected_trend(
    timelines: dict[str, list[tuple[datetime, str]]], days: list[date]
) -> list[dict[str, Any]]:
    """Per local day: created, solved (a change into resolved/closed from anything else, creation included),
    reopened (solved -> unsolved) and the backlog (unsolved at the end of the day)."""
    created: Counter[date] = Counter()
    solved: Counter[date] = Counter()
    reopened: Counter[date] = Counter()
    for timeline in timelines.values():
        created[local_day(timeline[0][0])] += 1
        previous = None
        for when, status in timeline:
            if status in SOLVED and previous not in SOLVED:
                solved[local_day(when)] += 1
            if status in UNSOLVED and previous in SOLVED:
                reopened[local_day(when)] += 1
            previous = status
    out = []
    for day in days:
        backlog = 0
        for timeline in timelines.values():
            before = [s for when, s in timeline if when < end_of(day)]
            backlog += bool(before) and before[-1] in UNSOLVED
        out.append(
            {
                "day": day.isoformat(),
                "created": created[day],
                "solved": solved[day],
                "reopened": reopened[day],
                "backlog": backlog,
            }
        )
    return out


def primary_timelines(api: Api) -> dict[str, list[tuple[datetime, str]]]:
    """Every live ticket's statuses from the primary store's record history."""
    core = api.core  # type: ignore[attr-defined]
    out = {}
    for ticket in core.records.query("acme", "tickets", limit=1000)["data"]:
        history = core.records.history("acme", "tickets", ticket["id"], limit=1000)
        out[ticket["id"]] = [
            (datetime.fromisoformat(h["at"]), h["data"]["data"]["status"]) for h in history if h["data"]
        ]
    return out


def test_created_vs_solved_per_local_day_with_the_backlog(sql_api: Api, clock: FixedClock) -> None:
    s = workspace(sql_api, clock)
    s.create("before", feb(10, 12))  # open before the period, solved in it
    s.status("before", feb(15, 14), "resolved")
    s.create("late", feb(16, 3, 30))  # 22:30 on 15 Feb in New York: created on the 15th there
    s.create("twice", feb(16, 12))  # solved, reopened, solved again: two solves, one reopen
    s.status("twice", feb(16, 18), "resolved")
    s.status("twice", feb(17, 13), "open")
    s.status("twice", feb(18, 2), "resolved")  # 21:00 on the 17th in New York
    s.create("reopened", feb(17, 12))  # solved, then reopened and still open
    s.status("reopened", feb(17, 13), "resolved")
    s.status("reopened", feb(19, 12), "in_progress")
    s.create("gone", feb(18, 12))  # deleted: left out everywhere
    s.status("gone", feb(18, 13), "resolved")
    s.delete("gone", feb(19, 10))
    s.create("old", feb(12, 9))  # solved before the period: nothing in it
    s.status("old", feb(13, 9), "resolved")
    s.create("history", feb(5, 9))  # reopened before the period, closed in it
    s.status("history", feb(8, 9), "resolved")
    s.status("history", feb(12, 9), "open")
    s.status("history", feb(16, 12), "closed")
    s.create("born_solved", feb(19, 14), status="resolved")  # created and solved at once
    s.create("steps", feb(18, 10))  # in progress, waiting, resolved, then closed: one solve
    s.status("steps", feb(18, 11), "in_progress")
    s.status("steps", feb(18, 12), "waiting")
    s.status("steps", feb(19, 16), "resolved")
    s.status("steps", feb(20, 14), "closed")
    s.at(NOW)

    rows = run(sql_api, "tickets_created_vs_solved", start=iso(START), end=iso(NOW), tz=TZ)
    days = [date(2026, 2, 14) + timedelta(days=i) for i in range(7)]
    mine = {k: v for k, v in s.statuses.items() if k not in s.deleted}
    expected = expected_trend(mine, days)
    assert expected == expected_trend(primary_timelines(sql_api), days)  # my account is the store's
    got = [{**r, "day": str(r["day"])} for r in rows]
    assert got == expected
    by_day = {r["day"]: r for r in got}
    assert by_day["2026-02-15"]["created"] == 1  # "late", on its New York day
    assert by_day["2026-02-17"]["solved"] == 2 and by_day["2026-02-17"]["reopened"] == 1
    assert by_day["2026-02-19"]["created"] == 1 and by_day["2026-02-19"]["reopened"] == 1
    # the last backlog is what is open now: late, reopened, plus nothing deleted
    assert got[-1]["backlog"] == sum(t[-1][1] in UNSOLVED for t in mine.values()) == 2

    # a UTC reader of the same period sees "late" on the 16th
    utc = run(sql_api, "tickets_created_vs_solved", start=iso(feb(14, 0)), end=iso(NOW), tz="UTC")
    assert {str(r["day"]): r["created"] for r in utc}["2026-02-16"] == 2


def test_first_response_times_business_and_calendar(sql_api: Api, clock: FixedClock) -> None:
    s = workspace(sql_api, clock)
    replies = {  # created, first reply (UTC)
        "quick": (feb(16, 14), feb(16, 14, 10)),
        "hour": (feb(16, 15), feb(16, 16, 30)),
        "overnight": (feb(16, 22), feb(17, 15)),
        "slow": (feb(17, 9), feb(19, 20)),
        "weekend": (feb(14, 16), feb(16, 14)),
    }
    for key, (created, _) in replies.items():
        s.create(key, created)
    s.create("earlier", feb(10, 9))  # first reply before the period: not counted
    s.reply("earlier", feb(11, 9))
    s.create("silent", feb(18, 9))  # no reply yet
    s.create("gone", feb(18, 10))  # replied, then deleted
    s.reply("gone", feb(18, 11))
    s.delete("gone", feb(18, 12))
    for key, (_, first) in sorted(replies.items(), key=lambda kv: kv[1][1]):
        s.reply(key, first)
        s.reply(key, first + timedelta(hours=1))  # a second reply changes nothing
    s.at(NOW)
    sla = sql_api.core.extensions[SlaService]  # type: ignore[attr-defined]
    truth = {
        "calendar": [int((first - created).total_seconds()) for created, first in replies.values()],
        "business": [
            sla.ticket_view("acme", s.ids[k])["metrics"]["first_response_seconds_business"] for k in replies
        ],
    }
    assert truth["calendar"] == [
        sla.ticket_view("acme", s.ids[k])["metrics"]["first_response_seconds_calendar"] for k in replies
    ]
    assert truth["business"] != truth["calendar"]  # the workspace keeps business hours
    edges = [0, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800]
    for clock_name, values in truth.items():
        rows = run(sql_api, "first_response_times", start=iso(START), end=iso(NOW), clock=clock_name)
        assert [r["from_seconds"] for r in rows] == edges
        assert [r["to_seconds"] for r in rows] == [*edges[1:], None]
        counts = [
            sum(lo <= v < hi for v in values) for lo, hi in zip(edges, [*edges[1:], 10**12], strict=True)
        ]
        assert [r["tickets"] for r in rows] == counts, clock_name
        assert {r["total"] for r in rows} == {len(values)}
        assert rows[0]["median_seconds"] == round(statistics.median(values))
        p90 = statistics.quantiles(values, n=10, method="inclusive")[8]
        assert rows[0]["p90_seconds"] == pytest.approx(round(p90), abs=1)
    assert (
        run(
            sql_api,
            "first_response_times",
            start=iso(NOW),
            end=iso(NOW + timedelta(days=1)),
            clock="calendar",
        )
        == []
    )


def test_sla_attainment_by_plan(sql_api: Api, clock: FixedClock) -> None:
    api = sql_api
    s = workspace(api, clock)
    clock.set(feb(15, 14))
    customers = {}
    for name, plan in (("ana", "enterprise"), ("ben", "free"), ("cy", None)):
        data = {"name": name, "email": f"{name}@example.com", **({"plan": plan} if plan else {})}
        customers[name] = api.post(f"{W}/records/customers", json={"data": data}).json()["id"]
    who = {"a1": "ana", "a2": "ana", "b1": "ben", "c1": "cy", "n1": None, "gone": "ana"}
    for key, customer in who.items():
        s.create(key, feb(16, 14), priority="urgent" if key != "b1" else "low")
        if customer:
            link = {
                "rel_type": "submitted_by",
                "source": {"collection": "tickets", "id": s.ids[key]},
                "target": {"collection": "customers", "id": customers[customer]},
            }
            assert api.post(f"{W}/relationships", json=link).status_code in (200, 201)
    s.reply("a1", feb(16, 14, 5))  # in time
    s.reply("b1", feb(16, 14, 5))
    s.reply("c1", feb(16, 14, 5))
    s.reply("gone", feb(16, 14, 5))
    s.at(feb(17, 14))
    api.core.extensions[SlaService].run_due()  # type: ignore[attr-defined]
    s.reply("a2", feb(17, 14, 30))  # late: breached
    s.reply("n1", feb(17, 14, 30))
    s.status("a1", feb(17, 15), "resolved")
    s.delete("gone", feb(18, 9))
    s.at(NOW)

    # the truth: the SLA service's evaluation on the primary store, plans from the primary store's links
    sla = api.core.extensions[SlaService]  # type: ignore[attr-defined]
    plan_of = {
        k: (None if c is None else {"ana": "enterprise", "ben": "free", "cy": None}[c])
        for k, c in who.items()
    }
    expected: Counter[tuple[str, str, str, str]] = Counter()
    for key in who:
        if key in s.deleted:
            continue
        for inst in sla.ticket_view("acme", s.ids[key])["sla"]:
            done = inst.get("completed_at")
            if (
                inst["state"] in ("achieved", "breached")
                and done
                and START <= datetime.fromisoformat(done) < NOW
            ):
                expected[(inst["metric"], inst["priority"], plan_of[key] or "", inst["state"])] += 1
    assert expected[("first_response", "urgent", "enterprise", "breached")] == 1
    assert expected[("first_response", "urgent", "", "breached")] == 1  # no customer
    rows = run(api, "sla_attainment_by_plan", start=iso(START), end=iso(NOW))
    got = {(r["metric"], r["priority"], r["plan"]): r for r in rows}
    keys = {(m, p, plan) for m, p, plan, _ in expected}
    assert set(got) == keys
    for key, r in got.items():
        met, missed = expected[(*key, "achieved")], expected[(*key, "breached")]
        assert (r["total"], r["achieved"], r["breached"]) == (met + missed, met, missed), key
        assert float(r["attainment"]) == pytest.approx(round(met / (met + missed), 4))
    assert ("first_response", "urgent", "") in got  # "cy" has no plan, "n1" no customer: both plan ""
    assert got[("first_response", "urgent", "")]["total"] == 2
    assert got[("first_response", "urgent", "enterprise")]["total"] == 2  # "gone" left out


def test_tickets_by_weekday_and_hour_in_the_workspace_zone(sql_api: Api, clock: FixedClock) -> None:
    s = workspace(sql_api, clock)
    created = [
        feb(16, 4, 30),  # Sun 15 Feb 23:30 in New York
        feb(16, 5, 0),  # Mon 00:00
        feb(16, 14, 0),  # Mon 09:00
        feb(16, 14, 59),  # Mon 09:59
        feb(19, 2, 0),  # Wed 21:00
        feb(20, 13, 0),  # Fri 08:00
        feb(13, 15, 0),  # before the period
    ]
    for i, when in enumerate(created):
        s.create(f"t{i}", when)
    s.create("gone", feb(16, 14, 30))
    s.delete("gone", feb(16, 15))
    s.at(NOW)
    rows = run(sql_api, "tickets_by_weekday_and_hour", start=iso(START), end=iso(NOW), tz=TZ)
    expected = Counter(
        (w.astimezone(NY).isoweekday(), w.astimezone(NY).hour) for w in created if START <= w < NOW
    )
    assert {(r["weekday"], r["hour"]): r["tickets"] for r in rows} == expected
    assert expected[(7, 23)] == 1 and expected[(1, 0)] == 1 and expected[(1, 9)] == 2
    utc = run(sql_api, "tickets_by_weekday_and_hour", start=iso(START), end=iso(NOW), tz="UTC")
    assert {(r["weekday"], r["hour"]) for r in utc} >= {(1, 4), (1, 5), (1, 14), (4, 2)}


def test_created_vs_solved_matches_the_record_history_of_demo_data(sql_api: Api, clock: FixedClock) -> None:
    """Demo tickets (statuses over three weeks, closed after resolved) plus reopens, against the history."""
    from deskbase.core.context import SYSTEM
    from deskbase.support import demo

    api, core = sql_api, sql_api.core  # type: ignore[attr-defined]
    clock.set(NOW - timedelta(days=2))
    assert api.put(W, json={"name": "Acme", "settings": {"timezone": TZ}}).status_code == 201
    demo.load(core, "acme", SYSTEM, demo.DemoSize(tickets=80, customers=20, weeks=3))
    solved = core.records.query("acme", "tickets", {"field": "data.status", "op": "eq", "value": "resolved"})
    for i, ticket in enumerate(solved["data"][:6]):
        clock.advance(hours=3)
        api.patch(f"{W}/records/tickets/{ticket['id']}", json={"data": {"status": "open"}})
        if i % 2:
            clock.advance(hours=1)
            api.patch(f"{W}/records/tickets/{ticket['id']}", json={"data": {"status": "closed"}})
    clock.set(NOW)
    start = datetime(2026, 1, 22, tzinfo=NY).astimezone(UTC)  # 30 days, today included
    rows = run(api, "tickets_created_vs_solved", start=iso(start), end=iso(NOW), tz=TZ)
    days = [date(2026, 1, 22) + timedelta(days=i) for i in range(30)]
    expected = expected_trend(primary_timelines(api), days)
    assert [{**r, "day": str(r["day"])} for r in rows] == expected
    assert sum(r["reopened"] for r in expected) == 6 and sum(r["solved"] for r in expected) > 20
