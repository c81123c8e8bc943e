"""A trigger's changes take effect for the next events although the dispatcher keeps compiled triggers between
turns: an update, and a delete followed by a create under the same id (whose version starts again at 1)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.events.receiver import Receiver
from tests.events.test_delivery import WS, ticket

MATCHES = "record.created"


def put(api: Api, tid: str, url: str, priority: str, status: int) -> None:
    body = {
        "url": url,
        "events": [MATCHES],
        "filter": {"field": "data.priority", "op": "eq", "value": priority},
    }
    r = api.put(f"{WS}/triggers/{tid}", json=body)
    assert r.status_code == status, r.text


def ids(bodies: list[Any]) -> list[str]:
    return [b["data"]["record"]["id"] for b in bodies]


def test_a_recreated_or_updated_trigger_matches_by_its_new_filter(wapi: Api, receiver: Receiver) -> None:
    put(wapi, "t", receiver.url + "/one", "urgent", 201)
    first = ticket(wapi, priority="urgent")
    assert ids(receiver.wait_for(1, "/one")) == [first["id"]]  # compiled and cached by now, at version 1

    assert wapi.delete(f"{WS}/triggers/t").status_code == 204
    put(wapi, "t", receiver.url + "/two", "low", 201)  # version 1 again
    skipped = ticket(wapi, priority="urgent")
    low = ticket(wapi, priority="low")
    assert ids(receiver.wait_for(1, "/two")) == [low["id"]]

    put(wapi, "t", receiver.url + "/three", "high", 200)
    ticket(wapi, priority="low")
    high = ticket(wapi, priority="high")
    assert ids(receiver.wait_for(1, "/three")) == [high["id"]]
    assert skipped["id"] not in ids(receiver.bodies())
    assert ids(receiver.bodies("/one")) == [first["id"]] and ids(receiver.bodies("/two")) == [low["id"]]
