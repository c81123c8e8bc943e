"""A scheduler tick reads which tickets are due at its `now`, then locks them; a reply that commits in between
carries a later instant than that `now`. Replayed "as of" the older instant, the reply's fulfilment would be
retracted (its sla_events row deleted) until the next tick, as the soak run on PostgreSQL once showed
(bench/soak.py). The tick evaluates at the clock read after the locks, so no committed fact is in its future."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from deskbase.core.app import Deskbase
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.support import tables as ts
from deskbase.support.service import SlaService
from deskbase.support.tickets import add_response

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def test_a_tick_that_read_its_due_list_before_a_reply_committed_keeps_the_fulfilment(
    core: Deskbase, ws: str, clock: FixedClock
) -> None:
    sla = core.extensions[SlaService]
    week = {d: [["00:00", "24:00"]] for d in DAYS}
    sla.config.put(ws, "calendar", "always", {"name": "24x7", "timezone": "UTC", "weekly": week}, SYSTEM)
    policy = {
        "name": "fast",
        "calendar_id": "always",
        "match": {"field": "ticket.priority", "op": "eq", "value": "high"},
        "targets": {"first_response": {"high": {"seconds": 3, "business": False}}},
    }
    sla.config.put(ws, "policy", "fast", policy, SYSTEM, position=0)
    t0 = clock.now()
    rec, _ = core.records.create(
        ws, "tickets", {"data": {"subject": "VPN down", "status": "open", "priority": "high"}}, SYSTEM
    )
    clock.set(t0 + timedelta(seconds=2.55))
    add_response(core, ws, rec["id"], {"body": "on it"}, SYSTEM)
    # The race's injection point: the tick's due list was read at 2.5 s (the warning due), before the reply.
    sla.scheduler._tick_many(ws, [rec["id"]], t0 + timedelta(seconds=2.5))
    se = ts.sla_events.c
    with core.db.read() as conn:
        rows = conn.execute(select(se.event_key, se.deleted).where(se.ticket_id == rec["id"])).all()
    assert sorted(rows) == [
        ("0:first_response:1:activate", False),
        ("1:first_response:1:warn", False),
        ("2:first_response:1:fulfil", False),
    ]
