"""The loop guard, end to end with the real receiver: a trigger does not send changes an inbound hook made
unless it opts in with `include_hook_writes` (a hook fed by a trigger's receiver would echo forever)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from standardwebhooks.webhooks import Webhook

from tests.conftest import Api
from tests.events.receiver import Receiver
from tests.events.test_delivery import WS, deliveries, ticket, trigger


def test_triggers_skip_hook_writes_unless_they_opt_in(wapi: Api, receiver: Receiver) -> None:
    trigger(wapi, "plain", receiver.url + "/plain", events=["record.created"])
    trigger(wapi, "echo", receiver.url + "/echo", events=["record.created"], include_hook_writes=True)
    assert wapi.get(f"{WS}/triggers/plain").json()["include_hook_writes"] is False
    assert wapi.get(f"{WS}/triggers/echo").json()["include_hook_writes"] is True
    hook = wapi.put(
        f"{WS}/hooks/shop",
        json={
            "collection": "tickets",
            "mapping": {"subject": "/t", "status": {"const": "open"}, "priority": "/p"},
        },
    ).json()
    body = orjson.dumps({"t": "from the hook", "p": "low"})
    now = datetime.now(UTC)
    r = wapi.post(
        hook["ingest_path"],
        content=body,
        headers={
            "content-type": "application/json",
            "webhook-id": "msg_1",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(hook["secret"]).sign("msg_1", now, body),
        },
        token=None,
    )
    assert r.status_code == 201, r.text
    by_hook = r.json()["record_id"]
    by_token = ticket(wapi)[
        "id"
    ]  # a change after the hook's: once it has arrived, the hook's was passed over
    echoed = receiver.wait_for(2, "/echo")
    plain = receiver.wait_for(1, "/plain")
    # deliveries about different records may arrive in either order (only a record's own are ordered)
    assert sorted(e["data"]["record"]["id"] for e in echoed) == sorted([by_hook, by_token])
    assert [e["data"]["record"]["id"] for e in plain] == [by_token]
    # The hook's change (the lower seq) was fanned out no later than the token's: it would be queued by now.
    assert len(deliveries(wapi, "plain")) == 1 and len(deliveries(wapi, "echo")) == 2
    # A replay applies the guard too.
    assert wapi.post(f"{WS}/triggers/plain/replay", json={"since_seq": 0}).json()["queued"] == 1
    assert wapi.post(f"{WS}/triggers/echo/replay", json={"since_seq": 0}).json()["queued"] == 2
