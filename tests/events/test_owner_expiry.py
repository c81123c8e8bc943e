"""A trigger or hook whose owner token expires stops like one whose token is revoked: nothing is delivered
after the expiry (not even a retry queued before it), the hook's URL answers 404, both say why in
`disabled_reason`, and an update by a live token re-enables them. Driven by the injected clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import Api
from tests.events.receiver import Receiver

WS = "/v1/workspaces/acme"
ADMIN = [{"scope": {"workspaces": ["acme"]}, "permissions": ["admin"]}]


def trigger(url: str, events: list[str] | None = None) -> dict[str, Any]:
    return {"url": url, "events": events or ["record.created"], "collections": ["tickets"]}


def ticket(api: Api, subject: str) -> None:
    r = api.post(
        f"{WS}/records/tickets", json={"data": {"subject": subject, "status": "open", "priority": "low"}}
    )
    assert r.status_code == 201, r.text


def subjects(receiver: Receiver, path: str) -> list[str]:
    return [b["data"]["record"]["data"]["subject"] for b in receiver.bodies(path)]


def test_an_expired_owner_token_stops_its_triggers_and_hooks(wapi: Api, receiver: Receiver) -> None:
    core = wapi.core  # type: ignore[attr-defined]
    clock = core.clock
    expires = clock.now() + timedelta(hours=1)
    owner, owner_row = core.tokens.create("integration", ADMIN, expires_at=expires)
    other, _ = core.tokens.create("other", ADMIN)
    # The first delivery to /crm fails, so a retry is queued when the token expires.
    answers = iter([500])
    receiver.reply = lambda r: (next(answers, 200) if r.path == "/crm" else 200, {})
    for tid, token in (("crm", owner), ("kept", other)):
        r = wapi.put(f"{WS}/triggers/{tid}", json=trigger(f"{receiver.url}/{tid}"), token=token)
        assert r.status_code == 201, r.text
    idle = wapi.put(
        f"{WS}/triggers/idle", json=trigger(receiver.url + "/idle", ["sla.breached"]), token=owner
    )
    assert idle.status_code == 201
    mapping = {"subject": "/t", "status": {"const": "open"}, "priority": {"const": "low"}}
    made = wapi.put(
        f"{WS}/hooks/shop", json={"collection": "tickets", "mapping": mapping, "verify": "none"}, token=owner
    )
    assert made.status_code == 201, made.text
    ingest = made.json()["ingest_path"]
    assert wapi.post(ingest, json={"t": "by hook"}, token=None).status_code == 201

    ticket(wapi, "before")
    receiver.wait_for(1, "/kept")  # the hook's write is not sent: the loop guard
    receiver.wait_for(1, "/crm")  # its first attempt, answered 500: a retry is queued in 10 s

    clock.advance(hours=2)  # past the expiry, and past the time of that retry
    ticket(wapi, "after")
    receiver.wait_for(2, "/kept")
    assert subjects(receiver, "/kept") == ["before", "after"]
    crm = wapi.get(f"{WS}/triggers/crm").json()
    assert crm["enabled"] is False and "expired" in crm["disabled_reason"]
    assert wapi.get(f"{WS}/triggers/kept").json()["enabled"] is True
    assert wapi.get(f"{WS}/triggers/idle").json()["enabled"] is False  # swept, though nothing matched it
    assert subjects(receiver, "/crm") == ["before"]  # neither the retry nor "after" went out
    assert wapi.post(ingest, json={"t": "after"}, token=None).status_code == 404
    shop = wapi.get(f"{WS}/hooks/shop").json()
    assert shop["enabled"] is False and "expired" in shop["disabled_reason"]

    # A live token takes them over.
    assert wapi.put(f"{WS}/triggers/crm", json=trigger(f"{receiver.url}/crm"), token=other).json()["enabled"]
    again = wapi.put(
        f"{WS}/hooks/shop", json={"collection": "tickets", "mapping": mapping, "verify": "none"}, token=other
    )
    assert again.json()["enabled"] is True and again.json()["disabled_reason"] is None
    assert wapi.post(ingest, json={"t": "again"}, token=None).status_code == 201
    assert owner_row["id"] not in (wapi.get(f"{WS}/triggers/crm").json()["owner"], again.json()["owner"])
