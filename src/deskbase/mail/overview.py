"""What a workspace's outbound queue holds, per mailbox, for the console's mailbox list: messages waiting to be
sent, and those that failed for good recently. One grouped read over the queue's status index (queued and
failed rows only: sent ones, the bulk of the table, are never read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

from deskbase.core.app import Deskbase
from deskbase.mail.tables import mail_outbox


@dataclass(frozen=True)
class QueueCounts:
    queued: int = 0
    failed: int = 0  #: since the `failed_since` asked for


def queue_counts(core: Deskbase, workspace_id: str, failed_since: datetime) -> dict[str, QueueCounts]:
    """Mailbox id -> its counts (mailboxes with nothing queued or failed are left out)."""
    o = mail_outbox
    waiting = o.c.status == "queued"
    failed = (o.c.status == "failed") & (o.c.updated_at >= failed_since)
    query = (
        select(o.c.mailbox_id, o.c.status, func.count())
        .where(o.c.workspace_id == workspace_id, o.c.status.in_(("queued", "failed")), or_(waiting, failed))
        .group_by(o.c.mailbox_id, o.c.status)
    )
    found: dict[str, dict[str, int]] = {}
    with core.db.read() as conn:
        for mailbox_id, status, n in conn.execute(query):
            found.setdefault(mailbox_id, {})[status] = int(n)
    return {m: QueueCounts(c.get("queued", 0), c.get("failed", 0)) for m, c in found.items()}
