"""SLA end to end through the HTTP API under a FixedClock: clocks, warnings and breaches at their exact
instants, pauses, replies, policies and explain, at-risk, simulation, and import = live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deskbase.core.clock import FixedClock, iso
from deskbase.core.context import SYSTEM
from deskbase.support import tables as ts
from deskbase.support.service import SlaService
from tests.conftest import Api

W = "/v1/workspaces/acme"
MON = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 10:00 in Madrid


@pytest.fixture
def desk(api: Api, clock: FixedClock) -> Api:
    clock.set(MON)
    assert api.put(W, json={"name": "Acme", "settings": {"timezone": "Europe/Madrid"}}).status_code == 201
    assert api.post(f"{W}/templates/support").json()["sla_defaults"] == ["business-hours", "default"]
    return api


def sla_of(api: Api, tid: str) -> dict[str, dict[str, Any]]:
    return {f"{i['metric']}#{i['cycle']}": i for i in api.get(f"{W}/records/tickets/{tid}").json()["sla"]}


def ticket(api: Api, priority: str = "high", customer: dict[str, Any] | None = None) -> str:
    tid = api.post(
        f"{W}/records/tickets", json={"data": {"subject": "VPN down", "status": "open", "priority": priority}}
    ).json()["id"]
    if customer is not None:
        api.post(
            f"{W}/relationships",
            json={
                "rel_type": "submitted_by",
                "source": {"collection": "tickets", "id": tid},
                "target": {"collection": "customers", "id": customer["id"]},
            },
        )
    return tid


def run_due(api: Api) -> int:
    return api.core.extensions[SlaService].run_due()  # type: ignore[attr-defined]


def test_clock_warning_breach_reply_pause(desk: Api, clock: FixedClock) -> None:
    api = desk
    tid = ticket(api)
    fr = sla_of(api, tid)["first_response#1"]
    assert (fr["state"], fr["target_at"], fr["warn_at"]) == (
        "active",
        "2026-03-02T13:00:00.000Z",
        "2026-03-02T12:00:00.000Z",
    )
    assert fr["business"] is True and fr["remaining_business_seconds"] == 4 * 3600
    clock.set(MON + timedelta(hours=3, minutes=1))
    assert run_due(api) == 1
    assert sla_of(api, tid)["first_response#1"]["state"] == "warning"
    clock.set(MON + timedelta(hours=5))
    run_due(api)
    fr = sla_of(api, tid)["first_response#1"]
    assert fr["state"] == "breached_active" and fr["breached_at"] == "2026-03-02T13:00:00.000Z"
    events = [
        (e["event"]["metric"], e["event"]["kind"], e["at"])
        for e in api.get(f"{W}/tickets/{tid}/timeline").json()["data"]
        if e["type"] == "sla"
    ]
    assert ("first_response", "warn", "2026-03-02T12:00:00.000Z") in events
    assert ("first_response", "breach", "2026-03-02T13:00:00.000Z") in events
    at_risk = api.get(f"{W}/sla/at-risk", params={"within": "2h"}).json()["data"]
    assert [(r["ticket_id"], r["metric"]) for r in at_risk][:1] == [(tid, "first_response")]
    # An internal note never satisfies a reply metric; an agent reply does (late: breached).
    api.post(f"{W}/tickets/{tid}/responses", json={"body": "looking", "type": "internal_note"})
    assert sla_of(api, tid)["first_response#1"]["state"] == "breached_active"
    api.post(f"{W}/tickets/{tid}/responses", json={"body": "Fixed?", "author": "maria"})
    assert sla_of(api, tid)["first_response#1"]["state"] == "breached"
    # Waiting on the customer pauses the resolution clock; its elapsed time stops growing.
    api.patch(f"{W}/records/tickets/{tid}", json={"data": {"status": "waiting"}})
    res = sla_of(api, tid)["resolution#1"]
    assert res["paused"] is True and res["pause_reason"] == "status:waiting" and res["state"] == "paused"
    clock.set(MON + timedelta(days=1))
    assert sla_of(api, tid)["resolution#1"]["elapsed_business_seconds"] == res["elapsed_business_seconds"]
    metrics = api.get(f"{W}/records/tickets/{tid}").json()["metrics"]
    assert metrics["agent_replies"] == 1 and metrics["internal_notes"] == 1
    assert metrics["first_response_seconds_business"] == 5 * 3600


def test_policies_match_customers_and_explain(desk: Api, clock: FixedClock) -> None:
    api = desk
    vip = api.post(
        f"{W}/records/customers", json={"data": {"name": "V", "email": "v@x.io", "plan": "enterprise"}}
    ).json()
    free = api.post(
        f"{W}/records/customers", json={"data": {"name": "F", "email": "f@x.io", "plan": "free"}}
    ).json()
    policy = {
        "name": "Enterprise",
        "calendar_id": "business-hours",
        "position": 0,
        "match": {"field": "customer.plan", "op": "eq", "value": "enterprise"},
        "targets": {"first_response": {"high": {"seconds": 1800}, "urgent": {"seconds": 900}}},
    }
    r = api.put(f"{W}/sla/policies/enterprise", json=policy)
    assert r.status_code == 201, r.text
    order = [p["id"] for p in api.get(f"{W}/sla/policies").json()["data"]]
    assert order == ["enterprise", "default"]
    t_vip, t_free = ticket(api, customer=vip), ticket(api, customer=free)
    assert sla_of(api, t_vip)["first_response#1"]["target_seconds"] == 1800
    assert sla_of(api, t_free)["first_response#1"]["target_seconds"] == 4 * 3600
    view = api.get(f"{W}/tickets/{t_free}/sla").json()
    assert view["policy"]["id"] == "default"
    assert [(e["policy_id"], e["matched"]) for e in view["explanation"]] == [
        ("enterprise", False),
        ("default", True),
    ]
    bad = api.put(f"{W}/sla/policies/x", json={"name": "x", "calendar_id": "nope", "targets": {}})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_failed"
    bad = api.put(
        f"{W}/sla/calendars/c",
        json={"timezone": "Europe/Madrid", "weekly": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}},
    )
    assert bad.status_code == 422
    bad = api.put(f"{W}/sla/calendars/c", json={"timezone": "Mars/Base", "weekly": {}})
    assert bad.status_code == 422


def test_policy_change_keeps_completed_and_rebases_running(desk: Api, clock: FixedClock) -> None:
    api = desk
    done = ticket(api)
    api.post(f"{W}/tickets/{done}/responses", json={"body": "hi"})
    running = ticket(api)
    before_done = sla_of(api, done)["first_response#1"]
    clock.set(MON + timedelta(hours=1))
    default = api.get(f"{W}/sla/policies/default").json()
    default["targets"]["first_response"]["high"] = {"seconds": 2 * 3600, "business": True}
    body = {
        k: v
        for k, v in default.items()
        if k not in ("id", "version", "deleted", "created_at", "effective_from")
    }
    assert api.put(f"{W}/sla/policies/default", json=body).status_code == 200
    assert sla_of(api, done)["first_response#1"] == before_done
    fr = sla_of(api, running)["first_response#1"]
    assert fr["target_seconds"] == 7200 and fr["elapsed_business_seconds"] == 3600
    assert fr["target_at"] == "2026-03-02T11:00:00.000Z"
    assert len(api.get(f"{W}/sla/policies/default/history").json()["data"]) == 2


def test_simulate_a_stricter_policy(desk: Api, clock: FixedClock) -> None:
    api = desk
    for minutes in (20, 50, 200):
        tid = ticket(api)
        clock.advance(minutes=minutes)
        api.post(f"{W}/tickets/{tid}/responses", json={"body": "hi"})
    strict = {
        "name": "strict",
        "calendar_id": "business-hours",
        "targets": {"first_response": {"high": {"seconds": 1800}}},
    }
    out = api.post(
        f"{W}/sla/simulate",
        json={"policy": strict, "start": iso(MON - timedelta(days=1)), "end": iso(MON + timedelta(days=1))},
    ).json()
    fr = {r["metric"]: r for r in out["active"]}["first_response"]
    cand = {r["metric"]: r for r in out["candidate"]}["first_response"]
    assert out["tickets"] == 3 and (fr["achieved"], fr["breached"]) == (3, 0)
    assert (cand["achieved"], cand["breached"]) == (1, 2)
    assert api.get(f"{W}/sla/policies").json()["data"][0]["id"] == "default"


def test_import_equals_live(desk: Api, clock: FixedClock) -> None:
    """The same story told live (clock moving, writes now) and imported (dated writes in one batch)."""
    api = desk
    cust = api.post(f"{W}/records/customers", json={"data": {"name": "C", "email": "c@x.io"}}).json()
    story = [
        (0, "create"),
        (50, "agent"),
        (70, "status:waiting"),
        (24 * 60, "customer"),
        (24 * 60 + 5, "status:open"),
        (24 * 60 + 90, "agent"),
        (24 * 60 + 120, "priority:urgent"),
        (26 * 60, "status:resolved"),
        (3 * 24 * 60, "status:open"),
        (3 * 24 * 60 + 30, "note"),
    ]
    live = None
    for minutes, step in story:
        clock.set(MON + timedelta(minutes=minutes))
        if step == "create":
            live = ticket(api, customer=cust)
        elif step in ("agent", "customer", "note"):
            api.post(
                f"{W}/tickets/{live}/responses",
                json={
                    "body": step,
                    "type": "internal_note" if step == "note" else "reply",
                    "author": "c@x.io" if step == "customer" else "maria",
                },
            )
        else:
            field, value = step.split(":")
            api.patch(f"{W}/records/tickets/{live}", json={"data": {field: value}})
    ops: list[dict[str, Any]] = []
    for n, (minutes, step) in enumerate(story):
        at = iso(MON + timedelta(minutes=minutes))
        if step == "create":
            ops += [
                {
                    "type": "upsert_record",
                    "collection": "tickets",
                    "ref": "t",
                    "at": at,
                    "created_at": at,
                    "data": {"subject": "VPN down", "status": "open", "priority": "high"},
                },
                {
                    "type": "upsert_relationship",
                    "rel_type": "submitted_by",
                    "at": at,
                    "source": {"collection": "tickets", "id": "$ref:t"},
                    "target": {"collection": "customers", "id": cust["id"]},
                },
            ]
        elif step in ("agent", "customer", "note"):
            ops += [
                {
                    "type": "upsert_record",
                    "collection": "responses",
                    "ref": f"r{n}",
                    "at": at,
                    "created_at": at,
                    "data": {
                        "body": step,
                        "type": "internal_note" if step == "note" else "reply",
                        "author": "c@x.io" if step == "customer" else "maria",
                        "timestamp": at,
                    },
                },
                {
                    "type": "upsert_relationship",
                    "rel_type": "has_response",
                    "at": at,
                    "source": {"collection": "tickets", "id": "$ref:t"},
                    "target": {"collection": "responses", "id": f"$ref:r{n}"},
                },
            ]
        else:
            field, value = step.split(":")
            ops.append(
                {
                    "type": "patch_record",
                    "collection": "tickets",
                    "id": "$ref:t",
                    "at": at,
                    "data": {field: value},
                }
            )
    imported = api.post(f"{W}/batch", json={"operations": ops}).json()["results"][0]["record"]["id"]
    assert live is not None
    a, b = api.get(f"{W}/tickets/{live}/sla").json(), api.get(f"{W}/tickets/{imported}/sla").json()

    def events(view: dict[str, Any]) -> list[dict[str, Any]]:  # message ids differ between the two tellings
        return [
            {**e, "details": {k: v for k, v in e["details"].items() if k != "message_id"}}
            for e in view["events"]
        ]

    assert a["sla"] == b["sla"] and events(a) == events(b) and a["metrics"] == b["metrics"]
    assert len(a["events"]) > 10
    states = {f"{i['metric']}#{i['cycle']}": i["state"] for i in a["sla"]}
    assert states["resolution#2"] == "active" and a["metrics"]["reopens"] == 1


def test_escalations_run_once_even_across_restarts(desk: Api, clock: FixedClock) -> None:
    api = desk
    ladder = {
        "name": "Escalating",
        "calendar_id": "business-hours",
        "position": 0,
        "targets": {"first_response": {"high": {"seconds": 3600}, "urgent": {"seconds": 1800}}},
        "escalations": [
            {"trigger": "breach", "actions": {"set_priority": "urgent", "add_tags": ["escalated"]}},
            {"trigger": "breach+1800", "actions": {"set_assignee": "lead@x.io"}},
        ],
    }
    assert api.put(f"{W}/sla/policies/esc", json=ladder).status_code == 201, api.get(f"{W}/sla/policies").text
    tid = ticket(api)
    clock.set(MON + timedelta(hours=1, seconds=1))
    run_due(api)
    data = api.get(f"{W}/records/tickets/{tid}").json()["data"]
    assert data["priority"] == "urgent" and data["tags"] == ["escalated"] and "assignee" not in data
    hist = api.get(f"{W}/records/tickets/{tid}/history").json()["data"]
    assert hist[-1]["actor"]["id"] == "system:sla"
    api.patch(f"{W}/records/tickets/{tid}", json={"data": {"priority": "high", "tags": []}})
    clock.set(MON + timedelta(hours=1, minutes=31))
    run_due(api)
    run_due(api)
    data = api.get(f"{W}/records/tickets/{tid}").json()["data"]
    assert data["assignee"] == "lead@x.io" and data["priority"] == "high" and data["tags"] == []
    # A fresh service on the same store (a restart) finds the steps done.

    fresh = SlaService(api.core)  # type: ignore[attr-defined]
    clock.set(MON + timedelta(hours=3))
    fresh.run_due()
    assert api.get(f"{W}/records/tickets/{tid}").json()["data"]["priority"] == "high"


def test_rebuild_reproduces_stored_state(desk: Api, clock: FixedClock) -> None:
    api = desk
    tid = ticket(api)
    clock.advance(minutes=30)
    api.post(f"{W}/tickets/{tid}/responses", json={"body": "hi"})
    core = api.core  # type: ignore[attr-defined]
    from sqlalchemy import select

    def stored() -> list[tuple[str, str, str]]:
        with core.db.read() as conn:
            return sorted(
                (r.metric, r.state, r.data["target_at"]) for r in conn.execute(select(ts.sla_instances))
            )

    before = stored()
    assert api.post(f"{W}/sla/rebuild").json() == {"tickets": 1}
    assert stored() == before and len(before) == 3


def test_queue_views_order_by_sla_due_with_cursor(desk: Api, clock: FixedClock) -> None:
    api = desk
    sla = api.core.extensions[SlaService]  # type: ignore[attr-defined]
    urgent = ticket(api, "urgent")  # first response due in 1 h
    low = ticket(api, "low")  # due in 24 business hours
    high = ticket(api, "high")  # due in 4 h
    solved = ticket(api, "high")
    api.patch(f"{W}/records/tickets/{solved}", json={"data": {"status": "resolved"}})
    everything = sla.queue("acme", "all", {}, 10, None)
    assert [t["id"] for t in everything["data"]] == [urgent, high, low, solved] and everything["count"] == 4
    page1 = sla.queue(
        "acme", "open", {"filter": {"field": "data.status", "op": "eq", "value": "open"}}, 2, None
    )
    page2 = sla.queue(
        "acme",
        "open",
        {"filter": {"field": "data.status", "op": "eq", "value": "open"}},
        2,
        page1["next_cursor"],
    )
    assert [t["id"] for t in page1["data"] + page2["data"]] == [urgent, high, low] and page2[
        "next_cursor"
    ] is None
    assert [t["id"] for t in sla.queue("acme", "at_risk", {}, 10, None)["data"]] == [urgent]
    clock.set(MON + timedelta(hours=1, minutes=5))
    run_due(api)
    assert [t["id"] for t in sla.queue("acme", "breached", {}, 10, None)["data"]] == [urgent]
    assert [
        t["id"] for t in sla.queue("acme", "at_risk", {}, 10, None)["data"]
    ] == []  # breached: its own view
    clock.set(MON + timedelta(hours=2, minutes=5))  # high's first response is due at 13:00, within 2 h
    assert [t["id"] for t in sla.queue("acme", "at_risk", {}, 10, None)["data"]] == [high]


def test_attainment_over_a_period(desk: Api, clock: FixedClock) -> None:
    api = desk
    on_time, late = ticket(api), ticket(api)
    clock.advance(minutes=30)
    api.post(f"{W}/tickets/{on_time}/responses", json={"body": "hi"})
    clock.advance(hours=5)
    run_due(api)
    api.post(f"{W}/tickets/{late}/responses", json={"body": "sorry"})
    rows = api.get(
        f"{W}/sla/attainment", params={"start": iso(MON), "end": iso(MON + timedelta(days=1))}
    ).json()
    fr = next(r for r in rows["data"] if r["metric"] == "first_response")
    assert (fr["priority"], fr["achieved"], fr["breached"], fr["attainment"]) == ("high", 1, 1, 0.5)
    later = api.get(
        f"{W}/sla/attainment",
        params={"start": iso(MON + timedelta(days=1)), "end": iso(MON + timedelta(days=2))},
    ).json()["data"]
    assert later == []


def test_sla_views_forget_deleted_tickets(desk: Api, clock: FixedClock) -> None:
    """The SLA views count from the SLA table alone, so a deleted ticket must leave it (no clock, no due)."""
    api = desk
    sla = api.core.extensions[SlaService]  # type: ignore[attr-defined]
    breached, kept = ticket(api, "urgent"), ticket(api, "urgent")
    clock.set(MON + timedelta(minutes=30))  # both due within the hour: at risk
    assert sla.queue("acme", "at_risk", {}, 10, None)["count"] == 2
    assert api.delete(f"{W}/records/tickets/{breached}").status_code == 200
    page = sla.queue("acme", "at_risk", {}, 10, None)
    assert [t["id"] for t in page["data"]] == [kept] and page["count"] == 1
    clock.set(MON + timedelta(hours=1, minutes=5))
    run_due(api)
    page = sla.queue("acme", "breached", {}, 10, None)
    assert [t["id"] for t in page["data"]] == [kept] and page["count"] == 1


def test_an_escalation_naming_someone_who_is_not_an_agent_runs_its_other_actions(
    desk: Api, clock: FixedClock
) -> None:
    """Once the workspace has members, an assignee must be an agent: a step naming anyone else still raises
    the priority and tags the ticket, and leaves the assignee alone (the scheduler does not fail on it)."""
    api = desk
    core = api.core  # type: ignore[attr-defined]
    uid = core.people.create(SYSTEM, {"email": "ann@acme.example", "name": "Ann"})["id"]
    core.members.put(SYSTEM, "acme", uid, "agent")
    ladder = {
        "name": "Escalating",
        "calendar_id": "business-hours",
        "position": 0,
        "targets": {"first_response": {"high": {"seconds": 3600}}},
        "escalations": [
            {"trigger": "breach", "actions": {"set_priority": "urgent", "add_tags": ["escalated"]}},
            {"trigger": "breach", "actions": {"set_assignee": "lead@x.io"}},
        ],
    }
    assert api.put(f"{W}/sla/policies/esc", json=ladder).status_code == 201
    tid = ticket(api)
    clock.set(MON + timedelta(hours=1, seconds=1))
    run_due(api)
    data = api.get(f"{W}/records/tickets/{tid}").json()["data"]
    assert data["priority"] == "urgent" and data["tags"] == ["escalated"] and "assignee" not in data


def test_a_team_gets_its_own_business_hours_through_a_policy_matching_it(
    desk: Api, clock: FixedClock
) -> None:
    """How docs/people.md gives a team its hours: a policy matching `team` names the team's calendar."""
    api = desk
    assert api.put(f"{W}/teams/billing", json={"name": "Billing"}).status_code == 201
    tokyo = {"name": "Billing hours", "timezone": "Asia/Tokyo", "weekly": {"mon": [["09:00", "17:00"]]}}
    assert api.put(f"{W}/sla/calendars/billing-hours", json=tokyo).status_code == 201
    policy = {
        "name": "Billing",
        "calendar_id": "billing-hours",
        "position": 0,
        "match": {"field": "team", "op": "eq", "value": "billing"},
        "targets": {"first_response": {"high": {"seconds": 3600}}},
    }
    assert api.put(f"{W}/sla/policies/billing", json=policy).status_code == 201
    billed = api.post(
        f"{W}/records/tickets", json={"data": {"subject": "Invoice", **OPEN_HIGH, "team": "billing"}}
    ).json()["id"]
    other = ticket(api)
    assert api.get(f"{W}/tickets/{billed}/sla").json()["policy"]["calendar_id"] == "billing-hours"
    assert api.get(f"{W}/tickets/{other}/sla").json()["policy"]["calendar_id"] == "business-hours"


OPEN_HIGH = {"status": "open", "priority": "high"}
