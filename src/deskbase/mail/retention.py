"""Forgetting old mail bookkeeping: finished outbound messages (sent, failed, bounced) with their attempts,
skip-log entries and acknowledgement marks older than `mail_retention_days`.

Run by the mail loop (never by a request), in batches of BATCH rows per table and transaction, each an index
range read (`ix_mail_outbox_finished`, `ix_mail_skipped_at`, `ix_mail_acks_last`); after a full batch it runs
again on the loop's next turn until the backlog is gone, then once every PRUNE_EVERY. Kept for good: the
Message-ID index (`mail_messages`), which threads a customer's answer however late it comes, and the
responses and files themselves (the record). A queued message is never pruned, however old.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, tuple_
from sqlalchemy.engine import Connection

from deskbase.core.app import Deskbase
from deskbase.mail.tables import mail_acks, mail_attempts, mail_outbox, skipped_messages

BATCH = 500
PRUNE_EVERY = timedelta(hours=1)
FINISHED = ("sent", "failed", "bounced")
o = mail_outbox


def prune_outbox(conn: Connection, before: datetime, limit: int = BATCH) -> int:
    """Delete up to `limit` finished messages (and their attempts) last changed before `before`."""
    ids: list[str] = []
    for status in FINISHED:
        ids += conn.execute(
            select(o.c.id)
            .where(o.c.status == status, o.c.updated_at < before)
            .order_by(o.c.updated_at)
            .limit(limit - len(ids))
        ).scalars()
        if len(ids) >= limit:
            break
    if ids:
        conn.execute(delete(mail_attempts).where(mail_attempts.c.outbox_id.in_(ids)))
        conn.execute(delete(o).where(o.c.id.in_(ids)))
    return len(ids)


def prune_skipped(conn: Connection, before: datetime, limit: int = BATCH) -> int:
    s = skipped_messages
    keys = conn.execute(
        select(s.c.workspace_id, s.c.mailbox_id, s.c.id).where(s.c.at < before).order_by(s.c.at).limit(limit)
    ).all()
    if keys:
        conn.execute(
            delete(s).where(tuple_(s.c.workspace_id, s.c.mailbox_id, s.c.id).in_([tuple(k) for k in keys]))
        )
    return len(keys)


def prune_acks(conn: Connection, before: datetime, limit: int = BATCH) -> int:
    """Acknowledgement marks only rate-limit the next hour: old ones are noise (one row per sender ever)."""
    a = mail_acks
    keys = conn.execute(
        select(a.c.workspace_id, a.c.mailbox_id, a.c.sender)
        .where(a.c.last_at < before)
        .order_by(a.c.last_at)
        .limit(limit)
    ).all()
    if keys:
        conn.execute(
            delete(a).where(
                tuple_(a.c.workspace_id, a.c.mailbox_id, a.c.sender).in_([tuple(k) for k in keys])
            )
        )
    return len(keys)


class Pruner:
    """The mail loop's pruning: due once every PRUNE_EVERY, or at once while a backlog remains."""

    def __init__(self, core: Deskbase, retention_days: int) -> None:
        self.core = core
        self.retention = timedelta(days=retention_days) if retention_days > 0 else None
        self.batch = BATCH
        self._next_at: datetime | None = None

    def step(self) -> bool:
        """Prune one batch per table if due; True when more is left (the loop should turn again soon)."""
        if self.retention is None:
            return False
        now = self.core.clock.now()
        if self._next_at is not None and now < self._next_at:
            return False
        before = now - self.retention
        with self.core.db.tx() as tx:
            n = [f(tx.conn, before, self.batch) for f in (prune_outbox, prune_skipped, prune_acks)]
        more = max(n) >= self.batch
        self._next_at = None if more else now + PRUNE_EVERY
        return more
