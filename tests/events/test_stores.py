"""Webhooks on both primary stores (PostgreSQL skipped with a reason when absent): triggers, the dispatcher's
watermark, signed deliveries, a retry, the delivery log and a replay — the same code on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from deskbase.core.clock import FixedClock
from tests.conftest import Api
from tests.events.conftest import hooks_api
from tests.events.receiver import Receiver
from tests.events.test_delivery import WS, deliveries, ticket, tried, trigger, until


@pytest.fixture
def store_api(tmp_path: Path, live_clock: FixedClock, store_url: str) -> Iterator[Api]:
    with hooks_api(tmp_path, live_clock, database_url=store_url) as api:
        yield api


def test_a_delivery_round_trip(store_api: Api, receiver: Receiver) -> None:
    api = store_api
    clock: FixedClock = api.core.clock  # type: ignore[attr-defined]
    answers = iter([500, 200, 200, 200])
    receiver.reply = lambda _r: (next(answers), {})
    secret = trigger(api, "crm", receiver.url, collections=["tickets"])
    t = ticket(api)
    receiver.wait_for(1)
    tried(api, "crm", 1)
    clock.advance(seconds=12)  # past the first wait of the schedule (10 s)
    got = receiver.wait_for(2)
    assert got[0]["id"] == got[1]["id"] and got[1]["data"]["record"]["id"] == t["id"]
    for r in receiver.received:
        assert Webhook(secret).verify(r.body, r.headers)["type"] == "record.created"
    d = until(lambda: [d for d in deliveries(api, "crm") if d["status"] == "delivered"])[0]
    assert [a["status"] for a in d["attempts"]] == [500, 200]
    assert api.post(f"{WS}/triggers/crm/replay", json={"since_seq": 0}).status_code in (200, 202)
    assert receiver.wait_for(3)[-1]["id"] == got[0]["id"]  # a replay re-sends the same event
