"""The due query (which deliveries may go now): head-of-line order by (seq, id) within a (trigger, key), and a
probe of earlier deliveries bounded by the queue index, not a scan of the trigger's whole log per row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, event, insert
from sqlalchemy.engine import Connection

from deskbase.events import deliveries
from deskbase.events.tables import triggers, webhook_deliveries

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


@pytest.fixture
def conn() -> Iterator[Connection]:
    engine = create_engine("sqlite://")
    triggers.create(engine)
    webhook_deliveries.create(engine)
    with engine.begin() as c:
        c.execute(
            insert(triggers),
            [
                {
                    "workspace_id": "acme",
                    "id": "crm",
                    "url": "http://127.0.0.1/",
                    "events": ["*"],
                    "enabled": True,
                    "secret": "sealed",
                    "owner_id": "admin",
                    "owner_grants": [],
                    "owner_admin": True,
                    "start_seq": 0,
                    "include_hook_writes": False,
                    "version": 1,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )
        yield c
    engine.dispose()


def _delivery(did: str, key: str, seq: int, status: str = "pending") -> dict[str, Any]:
    return {
        "id": did,
        "workspace_id": "acme",
        "trigger_id": "crm",
        "event_id": f"ev-{did}",
        "dedupe_key": f"ev-{did}",
        "event_type": "record.created",
        "seq": seq,
        "order_key": key,
        "payload": "{}",
        "status": status,
        "attempts": 0,
        "next_attempt_at": NOW - timedelta(seconds=1),
        "origin": "live",
        "version": 1,
        "created_at": NOW,
        "updated_at": NOW,
    }


def test_only_the_head_of_each_queue_is_due(conn: Connection) -> None:
    conn.execute(
        insert(webhook_deliveries),
        [
            _delivery("d1", "rec-a", 5),
            _delivery("d2", "rec-a", 5),  # same seq (one change, two events): the smaller id goes first
            _delivery("d3", "rec-a", 4, status="delivered"),  # finished: holds nothing back
            _delivery("d4", "rec-b", 9),
            _delivery("d5", "rec-b", 7, status="failed"),  # retrying: the later one waits
            _delivery("d6", "rec-c", 3),
        ],
    )
    due = {r.id for r in deliveries.due(conn, NOW, 100)}
    assert due == {"d1", "d5", "d6"}
    assert {r.id for r in deliveries.due_for_trigger(conn, "acme", "crm", NOW, 100)} == due
    assert deliveries.due(conn, NOW, 100, skip=[("acme", "crm")]) == []  # a trigger whose lanes are all busy
    assert {r.id for r in deliveries.due(conn, NOW, 100, skip=[("acme", "other")])} == due


@pytest.mark.parametrize(
    "ask",
    [
        lambda c: deliveries.due(c, NOW, 50),
        lambda c: deliveries.due_for_trigger(c, "acme", "crm", NOW, 50),
    ],
    ids=["due", "due_for_trigger"],
)
def test_the_earlier_probe_uses_the_queue_index(conn: Connection, ask: Any) -> None:
    def explain(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, _many: bool) -> Any:
        return f"EXPLAIN QUERY PLAN {statement}", params

    event.listen(conn.engine, "before_cursor_execute", explain, retval=True)
    try:
        plan = " | ".join(str(row[-1]) for row in ask(conn))
    finally:
        event.remove(conn.engine, "before_cursor_execute", explain)
    assert "earlier USING INDEX ix_webhook_deliveries_queue" in plan
    assert "ix_webhook_deliveries_log" not in plan  # a per-row scan of every earlier id of the trigger
