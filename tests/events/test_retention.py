"""Retention of the delivery and ingest logs: what is older than `webhook_retention_days` is forgotten in
batches, and a backlog larger than one turn's share keeps being pruned turn after turn instead of waiting an
hour per thousand rows (at 1,000 deliveries a second the log would otherwise only grow)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from deskbase.core.clock import FixedClock
from deskbase.events.deliveries import PRUNE_BATCH
from deskbase.events.dispatcher import PRUNE_BATCHES
from deskbase.events.service import Webhooks
from deskbase.events.tables import hook_ingests, webhook_attempts, webhook_deliveries
from tests.conftest import Api
from tests.events.test_delivery import until

OLD = PRUNE_BATCH * PRUNE_BATCHES + 700  # more than one turn can forget
KEPT = 5


def _seed(api: Api, clock: FixedClock) -> None:
    """Delivered deliveries (each with an attempt) and ingest-log entries, most past retention."""
    long_ago = clock.now() - timedelta(days=40)
    recent = clock.now()
    rows, attempts, ingests = [], [], []
    for i in range(OLD + KEPT):
        at = long_ago if i < OLD else recent
        rows.append(
            {
                "id": f"d{i:07d}",
                "workspace_id": "acme",
                "trigger_id": "crm",
                "event_id": f"e{i}",
                "dedupe_key": f"k{i}",
                "event_type": "record.created",
                "seq": i + 1,
                "order_key": "tickets/x",
                "payload": "{}",
                "status": "delivered",
                "attempts": 1,
                "origin": "live",
                "version": i + 1,
                "created_at": at,
                "updated_at": at,
                "delivered_at": at,
            }
        )
        attempts.append({"delivery_id": f"d{i:07d}", "n": 1, "at": at, "status": 200, "duration_ms": 3})
        ingests.append(
            {
                "id": f"i{i:07d}",
                "workspace_id": "acme",
                "hook_id": "crm-in",
                "dedupe_key": f"w{i}",
                "received_at": at,
                "status": "created",
            }
        )
    with api.core.db.tx() as tx:  # type: ignore[attr-defined]
        for table, values in (
            (webhook_deliveries, rows),
            (webhook_attempts, attempts),
            (hook_ingests, ingests),
        ):
            tx.conn.execute(sa.insert(table), values)


def _counts(api: Api) -> tuple[int, int, int]:
    with api.core.db.read() as conn:  # type: ignore[attr-defined]
        return tuple(  # type: ignore[return-value]
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (webhook_deliveries, webhook_attempts, hook_ingests)
        )


def test_a_backlog_past_retention_is_forgotten_over_a_few_turns(wapi: Api, live_clock: FixedClock) -> None:
    _seed(wapi, live_clock)
    assert _counts(wapi) == (OLD + KEPT,) * 3
    # An hour on, the retention step is due again: the backlog goes, the recent rows stay.
    live_clock.advance(hours=1, seconds=1)
    dispatcher = wapi.core.extensions[Webhooks].dispatcher  # type: ignore[attr-defined]
    dispatcher.wake()
    until(lambda: (dispatcher.wake(), _counts(wapi))[1] == (KEPT,) * 3, timeout=60)
