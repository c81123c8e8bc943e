"""Storing what the lanes' attempts ended with: the attempts, each delivery's outcome and its trigger's health.

Outcomes of lanes of different triggers that finish at about the same time go into one transaction
(events/grouped.py): each write transaction takes the store's write lock and a WAL fsync that the writers of
records wait on too. A delivery finished meanwhile by someone else (a replay, a retry, the trigger's deletion)
keeps what they stored.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.sql.elements import BindParameter

from deskbase.core.app import Deskbase
from deskbase.events import deliveries, retry
from deskbase.events.grouped import GroupWriter
from deskbase.events.sender import Result
from deskbase.events.tables import triggers, webhook_deliveries

log = logging.getLogger(__name__)

#: One attempt to store: (delivery row, attempted at, result, outcome, finished at).
Attempt = tuple[Any, datetime, Result, retry.Outcome, datetime]
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_STATUS_OF = select(webhook_deliveries.c.id, webhook_deliveries.c.status).where(
    webhook_deliveries.c.id.in_(_IDS)
)


class Outcomes:
    """Thread-safe: every lane calls `store`."""

    def __init__(self, core: Deskbase) -> None:
        self.core = core
        self._writer: GroupWriter[tuple[Any, list[Attempt]], bool] = GroupWriter(self._write)

    def store(self, trig: Any, done: list[Attempt]) -> bool:
        """Store a lane's attempts (with other lanes' at about the same time); True if they disabled the
        trigger. Returns once they are committed."""
        return self._writer.submit((trig, done))

    def _write(self, batches: list[tuple[Any, list[Attempt]]]) -> list[bool]:
        """One transaction for the lanes' outcomes; per batch, True if its trigger is now disabled."""
        with self.core.db.tx() as tx:
            for key in sorted({(t.workspace_id, t.id) for t, _ in batches}):
                tx.lock(f"trigger:{key[0]}:{key[1]}")  # an admin's edit of the trigger takes turns
            ids = [r.id for _, done in batches for r, *_ in done]
            current = dict(tx.conn.execute(_STATUS_OF, {"ids": ids}).all())
            kept = [
                [item for item in done if current.get(item[0].id) in deliveries.OPEN] for _, done in batches
            ]
            deliveries.record(tx.conn, [item for part in kept for item in part])  # not finished meanwhile
            return [_health(tx.conn, trig, part) for (trig, _), part in zip(batches, kept, strict=True)]


def _health(conn: Any, trig: Any, kept: list[Attempt]) -> bool:
    """Store what the attempts say of the trigger's health; True if they disable it."""
    failing = trig.failing_since
    changes: dict[str, Any] = {}
    for _row, _at, _result, out, now in kept:
        failing = None if out.status == "delivered" else (failing or now)
        if out.disable:
            changes.update(enabled=False, disabled_reason=out.disable)
            log.warning("trigger %s/%s disabled: %s", trig.workspace_id, trig.id, out.disable)
    if failing != trig.failing_since:
        changes["failing_since"] = failing
    if changes:
        conn.execute(
            triggers.update()
            .where(triggers.c.workspace_id == trig.workspace_id, triggers.c.id == trig.id)
            .values(**changes)
        )
    return "enabled" in changes
