"""The delivery log, test events, replay, and SLA events reaching triggers."""

from __future__ import annotations

from datetime import timedelta

from standardwebhooks.webhooks import Webhook

from deskbase.core.clock import FixedClock, iso
from deskbase.support.service import SlaService
from tests.conftest import Api
from tests.events.receiver import Receiver
from tests.events.test_delivery import WS, deliveries, ticket, trigger, until


def test_a_test_event_is_queued_and_delivered(wapi: Api, receiver: Receiver) -> None:
    secret = trigger(wapi, "t", receiver.url, events=["record.deleted"])
    r = wapi.post(f"{WS}/triggers/t/test")
    assert r.status_code == 202 and r.json()["type"] == "trigger.test"
    got = receiver.wait_for(1)
    assert got[0]["type"] == "trigger.test" and got[0]["data"]["trigger_id"] == "t"
    Webhook(secret).verify(receiver.received[0].body, receiver.received[0].headers)
    assert until(lambda: wapi.get(f"{WS}/deliveries/{r.json()['id']}").json()["status"] == "delivered")
    assert wapi.post(f"{WS}/triggers/nope/test").status_code == 404


def test_the_log_pages_by_cursor_and_filters_by_status(wapi: Api, receiver: Receiver) -> None:
    trigger(wapi, "t", receiver.url, events=["record.created"])
    for _ in range(5):
        ticket(wapi)
    receiver.wait_for(5)
    until(lambda: all(d["status"] == "delivered" for d in deliveries(wapi, "t")))
    seen, cursor = [], None
    while True:
        page = wapi.get(
            f"{WS}/triggers/t/deliveries", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and len({d["id"] for d in seen}) == 5
    assert [d["seq"] for d in seen] == sorted((d["seq"] for d in seen), reverse=True)
    assert wapi.get(f"{WS}/triggers/t/deliveries?status=failed").json()["data"] == []
    bad = wapi.get(f"{WS}/triggers/t/deliveries?status=lost")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_filter"


def test_replay_sends_the_same_events_again_from_a_point(wapi: Api, receiver: Receiver) -> None:
    trigger(wapi, "t", receiver.url, events=["record.created"])
    tickets = [ticket(wapi) for _ in range(3)]
    # Deliveries about different records may arrive in any order (two in flight per trigger): order by seq.
    first = sorted(receiver.wait_for(3), key=lambda b: b["seq"])
    r = wapi.post(f"{WS}/triggers/t/replay", json={"since_seq": tickets[1]["version"]})
    assert r.status_code == 202 and r.json()["queued"] == 2
    again = receiver.wait_for(5)[3:]
    assert sorted(b["id"] for b in again) == sorted(b["id"] for b in first[1:])  # order is per record
    assert {d["origin"] for d in deliveries(wapi, "t")} == {"live", "replay"}
    assert wapi.post(f"{WS}/triggers/t/replay", json={"since_seq": -1}).status_code == 422


def test_sla_warnings_breaches_and_emitted_escalations_are_events(wapi: Api, receiver: Receiver) -> None:
    clock: FixedClock = wapi.core.clock  # type: ignore[attr-defined]
    policy = {
        "name": "Fast",
        "calendar_id": "business-hours",
        "position": 0,
        "warn_fraction": 0.5,
        "targets": {"first_response": {"high": {"seconds": 60, "business": False}}},
        "escalations": [
            {"trigger": "breach", "actions": {"emit": "page-oncall"}},
            {"trigger": "breach", "actions": {"add_tags": ["late"]}},
        ],
    }
    assert wapi.put(f"{WS}/sla/policies/fast", json=policy).status_code == 201
    trigger(wapi, "sla", receiver.url, events=["sla.warning", "sla.breached", "sla.escalated"])
    t = ticket(wapi)
    created = clock.now()
    clock.advance(seconds=61)
    wapi.core.extensions[SlaService].run_due()  # type: ignore[attr-defined]
    got = {b["type"]: b for b in receiver.wait_for(3)}
    assert set(got) == {"sla.warning", "sla.breached", "sla.escalated"}
    warning, breach, esc = (
        got["sla.warning"]["data"],
        got["sla.breached"]["data"],
        got["sla.escalated"]["data"],
    )
    assert warning["ticket_id"] == t["id"] and warning["metric"] == "first_response" and warning["cycle"] == 1
    assert warning["warning_at"] == iso(created + timedelta(seconds=30))
    assert breach["breached_at"] == iso(created + timedelta(seconds=60)) == breach["target_at"]
    assert esc["name"] == "page-oncall"
    clock.advance(seconds=10)
    wapi.core.extensions[SlaService].run_due()  # type: ignore[attr-defined]
    wapi.patch(f"{WS}/records/tickets/{t['id']}", json={"data": {"subject": "re-evaluated"}})
    ticket(wapi)
    until(lambda: len(deliveries(wapi, "sla")) >= 3)
    assert len(receiver.bodies()) == 3  # re-evaluations rewrite SLA rows; the events are not sent twice
