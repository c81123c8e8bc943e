"""Deliveries end to end: a real receiver on 127.0.0.1, the dispatcher running, retries on a FixedClock."""

from __future__ import annotations

import time
from typing import Any

from standardwebhooks.webhooks import Webhook

from deskbase.core.clock import FixedClock
from deskbase.events.service import Webhooks
from tests.conftest import Api
from tests.events.receiver import Received, Receiver

WS = "/v1/workspaces/acme"
T = {"subject": "Printer on fire", "status": "open", "priority": "high"}


def trigger(api: Api, tid: str, url: str, **kw: Any) -> str:
    r = api.put(f"{WS}/triggers/{tid}", json={"url": url, "events": ["*"], **kw})
    assert r.status_code == 201, r.text
    return str(r.json()["secret"])


def ticket(api: Api, **data: Any) -> dict[str, Any]:
    r = api.post(f"{WS}/records/tickets", json={"data": {**T, **data}})
    assert r.status_code == 201, r.text
    return dict(r.json())


def deliveries(api: Api, tid: str) -> list[dict[str, Any]]:
    return list(api.get(f"{WS}/triggers/{tid}/deliveries?limit=1000").json()["data"])


def tried(api: Api, tid: str, n: int) -> None:
    """Wait until `n` attempts are recorded: only then is the next one scheduled (from the clock's time)."""
    until(lambda: sum(len(d["attempts"]) for d in deliveries(api, tid)) >= n)


def until(check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_record_events_arrive_signed_with_the_documented_body(wapi: Api, receiver: Receiver) -> None:
    secret = trigger(wapi, "all", receiver.url)
    t = ticket(wapi)
    assert (
        wapi.patch(f"{WS}/records/tickets/{t['id']}", json={"data": {"status": "waiting"}}).status_code == 200
    )
    assert wapi.delete(f"{WS}/records/tickets/{t['id']}").status_code in (200, 204)
    receiver.wait_for(3)
    got = {r.json["type"]: r for r in receiver.received}
    for r in got.values():
        assert Webhook(secret).verify(r.body, r.headers)["id"] == r.headers["webhook-id"]
    created, updated, deleted = (got[k].json for k in ("record.created", "record.updated", "record.deleted"))
    assert created["workspace_id"] == "acme" and created["seq"] == t["version"]
    assert set(created) == {"id", "type", "timestamp", "workspace_id", "seq", "data"}
    assert created["data"]["collection"] == "tickets"
    assert created["data"]["record"] == {k: t[k] for k in created["data"]["record"]}
    assert updated["data"]["previous_data"]["status"] == "open"
    assert updated["data"]["record"]["data"]["status"] == "waiting"
    assert updated["data"]["changed_fields"] == ["status"]
    assert deleted["data"]["record"]["deleted"] is True
    assert created["seq"] < updated["seq"] < deleted["seq"]
    logged = until(lambda: [d for d in deliveries(wapi, "all") if d["status"] == "delivered"])
    assert {d["event_id"] for d in logged} >= {created["id"], updated["id"], deleted["id"]}
    assert all(d["attempts"][0]["status"] == 200 and d["attempts"][0]["response"] == "ok" for d in logged)


def test_types_collections_and_filter_select_events(wapi: Api, receiver: Receiver) -> None:
    trigger(
        wapi,
        "urgent",
        receiver.url + "/urgent",
        events=["record.created"],
        filter={"field": "data.priority", "op": "eq", "value": "urgent"},
    )
    trigger(
        wapi, "customers", receiver.url + "/customers", events=["record.created"], collections=["customers"]
    )
    trigger(wapi, "links", receiver.url + "/links", events=["relationship.created"])
    ticket(wapi, priority="low")
    urgent = ticket(wapi, priority="urgent")
    c = wapi.post(
        f"{WS}/records/customers", json={"data": {"name": "Ada", "email": "ada@example.com"}}
    ).json()
    link = {
        "rel_type": "submitted_by",
        "source": {"collection": "tickets", "id": urgent["id"]},
        "target": {"collection": "customers", "id": c["id"]},
    }
    assert wapi.post(f"{WS}/relationships", json=link).status_code == 201
    assert [b["data"]["record"]["id"] for b in receiver.wait_for(1, "/urgent")] == [urgent["id"]]
    assert [b["data"]["record"]["id"] for b in receiver.wait_for(1, "/customers")] == [c["id"]]
    links = receiver.wait_for(1, "/links")
    assert links[0]["data"]["relationship"]["rel_type"] == "submitted_by"
    time.sleep(0.5)
    assert len(receiver.bodies("/urgent")) == 1 and len(receiver.bodies("/customers")) == 1


def test_ticket_messages_carry_who_wrote_them(wapi: Api, receiver: Receiver) -> None:
    trigger(wapi, "messages", receiver.url, events=["ticket.message"])
    c = wapi.post(
        f"{WS}/records/customers", json={"data": {"name": "Ada", "email": "ada@example.com"}}
    ).json()
    t = ticket(wapi)
    link = {
        "rel_type": "submitted_by",
        "source": {"collection": "tickets", "id": t["id"]},
        "target": {"collection": "customers", "id": c["id"]},
    }
    wapi.post(f"{WS}/relationships", json=link)
    for b in (
        {"body": "help", "type": "reply", "author": "ada@example.com"},
        {"body": "on it", "type": "reply", "author": "agent@acme.test"},
        {"body": "she is a VIP", "type": "internal_note", "author": "agent@acme.test"},
    ):
        assert wapi.post(f"{WS}/tickets/{t['id']}/responses", json=b).status_code == 201
    got = receiver.wait_for(3)
    assert [(m["type"], m["data"]["kind"], m["data"]["ticket_id"]) for m in got] == [
        ("ticket.message", "customer", t["id"]),
        ("ticket.message", "agent", t["id"]),
        ("ticket.message", "note", t["id"]),
    ]
    assert got[0]["data"]["response"]["data"]["body"] == "help"


def test_failures_retry_on_the_schedule_and_keep_the_event_id(wapi: Api, receiver: Receiver) -> None:
    clock: FixedClock = wapi.core.clock  # type: ignore[attr-defined]
    answers = iter([500, 302, 200])
    receiver.reply = lambda _r: (next(answers), {"location": "http://127.0.0.1:1/elsewhere"})
    trigger(wapi, "flaky", receiver.url)
    ticket(wapi)
    receiver.wait_for(1)
    tried(wapi, "flaky", 1)
    time.sleep(0.3)
    assert len(receiver.received) == 1  # not before the first wait of the schedule (10 s)
    clock.advance(seconds=12)
    receiver.wait_for(2)
    tried(wapi, "flaky", 2)
    clock.advance(seconds=23)
    got = receiver.wait_for(3)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert len({g["id"] for g in got}) == 1
    d = until(lambda: [d for d in deliveries(wapi, "flaky") if d["status"] == "delivered"])[0]
    assert [a["status"] for a in d["attempts"]] == [500, 302, 200]


def test_exhausted_after_the_schedule_and_retry_sends_again(wapi: Api, receiver: Receiver) -> None:
    clock: FixedClock = wapi.core.clock  # type: ignore[attr-defined]
    receiver.reply = lambda _r: (503, {})
    trigger(wapi, "down", receiver.url)
    ticket(wapi)
    for n in range(1, 5):
        receiver.wait_for(n)
        tried(wapi, "down", n)
        clock.advance(seconds=40)
    d = until(lambda: [d for d in deliveries(wapi, "down") if d["status"] == "exhausted"])[0]
    assert len(d["attempts"]) == 4
    receiver.reply = lambda _r: (200, {})
    assert wapi.post(f"{WS}/deliveries/{d['id']}/retry").status_code == 202
    receiver.wait_for(5)
    assert until(lambda: wapi.get(f"{WS}/deliveries/{d['id']}").json()["status"] == "delivered")


def test_retry_after_is_honoured(wapi: Api, receiver: Receiver) -> None:
    clock: FixedClock = wapi.core.clock  # type: ignore[attr-defined]
    answers = iter([(429, {"retry-after": "120"}), (200, {})])
    receiver.reply = lambda _r: next(answers)
    trigger(wapi, "busy", receiver.url)
    ticket(wapi)
    receiver.wait_for(1)
    tried(wapi, "busy", 1)
    clock.advance(seconds=60)  # past the schedule's 10 s, before Retry-After's 120 s
    time.sleep(1.5)
    assert len(receiver.received) == 1
    clock.advance(seconds=61)
    receiver.wait_for(2)


def test_gone_disables_the_trigger_and_enabling_resumes(wapi: Api, receiver: Receiver) -> None:
    receiver.reply = lambda _r: (410, {})
    trigger(wapi, "gone", receiver.url)
    ticket(wapi)
    receiver.wait_for(1)
    t = until(lambda: (x := wapi.get(f"{WS}/triggers/gone").json()) and not x["enabled"] and x)
    assert "410" in t["disabled_reason"]
    ticket(wapi)
    time.sleep(1.0)
    assert len(receiver.received) == 1  # a disabled trigger sends nothing
    receiver.reply = lambda _r: (200, {})
    assert (
        wapi.put(
            f"{WS}/triggers/gone", json={"url": receiver.url, "events": ["*"], "enabled": True}
        ).status_code
        == 200
    )
    assert wapi.get(f"{WS}/triggers/gone").json()["disabled_reason"] is None
    receiver.wait_for(2)


def test_a_trigger_failing_for_five_days_is_disabled(wapi: Api, receiver: Receiver) -> None:
    clock: FixedClock = wapi.core.clock  # type: ignore[attr-defined]
    receiver.reply = lambda _r: (500, {})
    trigger(wapi, "dead", receiver.url)
    ticket(wapi)
    receiver.wait_for(1)
    tried(wapi, "dead", 1)
    clock.advance(days=5, seconds=1)
    receiver.wait_for(2)
    t = until(lambda: (x := wapi.get(f"{WS}/triggers/dead").json()) and not x["enabled"] and x)
    assert "failed since" in t["disabled_reason"]


def test_per_record_order_holds_under_failures_and_other_records_do_not_wait(
    wapi: Api, receiver: Receiver
) -> None:
    clock: FixedClock = wapi.core.clock  # type: ignore[attr-defined]
    first = ticket(wapi)
    fail_once = {"left": 1}

    def reply(r: Received) -> tuple[int, dict[str, str]]:
        body = r.json
        if (
            body["data"]["record"]["id"] == first["id"]
            and body["type"] == "record.updated"
            and fail_once["left"]
        ):
            fail_once["left"] -= 1
            return 500, {}
        return 200, {}

    receiver.reply = reply
    trigger(wapi, "order", receiver.url, events=["record.updated"])
    for n in range(3):
        wapi.patch(f"{WS}/records/tickets/{first['id']}", json={"data": {"subject": f"v{n}"}})
    other = ticket(wapi)
    wapi.patch(f"{WS}/records/tickets/{other['id']}", json={"data": {"subject": "other"}})
    got = receiver.wait_for(2)  # the failed first update and the other record's update
    time.sleep(0.5)
    assert len(receiver.received) == 2
    assert {g["data"]["record"]["id"] for g in got} == {first["id"], other["id"]}
    tried(wapi, "order", 2)
    clock.advance(seconds=12)
    receiver.wait_for(5)
    mine = [
        g["data"]["record"]["data"]["subject"]
        for g in receiver.bodies()
        if g["data"]["record"]["id"] == first["id"]
    ]
    assert mine == ["v0", "v0", "v1", "v2"]


def test_a_dead_endpoint_does_not_delay_other_triggers(
    tmp_path: Any, live_clock: FixedClock, receiver: Receiver
) -> None:
    """Every delivery to the live endpoint arrives while those to the silent one still wait for an answer."""
    import socket

    from tests.events.conftest import hooks_api

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections, never answers
    try:
        with hooks_api(tmp_path, live_clock, webhook_timeout_seconds=120.0) as api:
            trigger(api, "dead", f"http://127.0.0.1:{silent.getsockname()[1]}/")
            trigger(api, "alive", receiver.url)
            for _ in range(4):
                ticket(api)
            receiver.wait_for(4)
            assert [d["attempts"] for d in deliveries(api, "dead")] == [[]] * 4
            silent.close()
    finally:
        silent.close()


def test_private_destinations_are_refused_when_not_allowed(
    tmp_path: Any, live_clock: FixedClock, receiver: Receiver
) -> None:
    from tests.events.conftest import hooks_api

    with hooks_api(tmp_path, live_clock, webhook_allow_networks="10.0.0.0/8") as api:
        host_url = receiver.url.replace("127.0.0.1", "localhost")  # a name: checked when connecting
        trigger(api, "local", host_url)
        ticket(api)
        d = until(lambda: [d for d in deliveries(api, "local") if d["attempts"]])[0]
        assert d["status"] == "failed"
        assert "loopback" in d["attempts"][0]["error"]
        assert receiver.received == []


def test_the_creators_scope_limits_what_a_trigger_delivers(wapi: Api, receiver: Receiver) -> None:
    core = wapi.core  # type: ignore[attr-defined]
    raw, _ = core.tokens.create(
        "tickets admin",
        [
            {"scope": {"workspaces": ["acme"]}, "permissions": ["admin"]},
            {"scope": {"workspaces": ["acme"], "collections": ["tickets"]}, "permissions": ["read:records"]},
        ],
    )
    limited, _ = core.tokens.create(
        "tickets only",
        [
            {
                "scope": {"workspaces": ["acme"], "collections": ["tickets"]},
                "permissions": ["read:records", "write:records"],
            }
        ],
    )
    assert raw and limited
    # An admin grant over the workspace reads everything: this trigger sees customers too.
    trigger(wapi, "all", receiver.url + "/all", events=["record.created"])
    r = wapi.put(
        f"{WS}/triggers/narrow",
        json={"url": receiver.url + "/narrow", "events": ["record.created"]},
        token=raw,
    )
    assert r.status_code == 201
    with core.db.tx() as tx:  # the recorded grant is what counts: narrow it to tickets
        from deskbase.events.tables import triggers

        tx.conn.execute(
            triggers.update()
            .where(triggers.c.id == "narrow")
            .values(  # a new version, as a change through the service makes: the dispatcher caches by it
                version=triggers.c.version + 1,
                owner_admin=False,
                owner_grants=[
                    {
                        "scope": {"workspaces": ["acme"], "collections": ["tickets"]},
                        "permissions": ["read:records"],
                    }
                ],
            )
        )
    wapi.post(f"{WS}/records/customers", json={"data": {"name": "Ada", "email": "ada@example.com"}})
    t = ticket(wapi)
    receiver.wait_for(2, "/all")
    assert [b["data"]["record"]["id"] for b in receiver.wait_for(1, "/narrow")] == [t["id"]]
    time.sleep(0.5)
    assert len(receiver.bodies("/narrow")) == 1


def test_stopping_leaves_a_slow_endpoints_batch_queued(wapi: Api, receiver: Receiver) -> None:
    """A lane holds a batch of deliveries; stop sends no more of it (the rest stays pending for the next
    start), so shutting down waits for the delivery in hand, not a batch of slow ones."""

    def slow(_r: Received) -> Any:
        time.sleep(0.5)
        return (200, {})

    receiver.reply = slow
    trigger(wapi, "slow", receiver.url, events=["record.created"])
    for n in range(12):
        ticket(wapi, subject=f"t{n}")
    until(lambda: len(deliveries(wapi, "slow")) == 12)  # all queued
    receiver.wait_for(1)
    wapi.core.extensions[Webhooks].stop()  # type: ignore[attr-defined]
    sent = len(receiver.received)
    time.sleep(1.0)
    assert len(receiver.received) == sent < 12
    states = [d["status"] for d in deliveries(wapi, "slow")]
    assert states.count("delivered") == sent and states.count("pending") == 12 - sent  # for the next start
