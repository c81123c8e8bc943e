"""The delivery state of an outbound message, kept on its response (`data.mail.delivery`) so the API, the
console and the replica all see it: queued → sent | failed, and bounced when a delivery report names it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from deskbase.core.clock import iso
from deskbase.core.writer import UnitOfWork
from deskbase.mail.tables import mail_messages, mail_outbox

STATES = ("queued", "sent", "failed", "bounced")


def set_state(
    uow: UnitOfWork, response_id: str, state: str, answer: str | None, attempts: int, at: datetime
) -> None:
    """A new version of the response with this delivery state (a response deleted meanwhile stays so)."""
    st = uow.record("responses", response_id)
    if st is None or st.deleted:
        return
    mail = dict(st.data.get("mail") or {})
    mail["delivery"] = {"state": state, "answer": answer, "attempts": attempts, "at": iso(at)}
    uow.patch_record("responses", response_id, {"mail": mail}, None)


def mark_bounced(uow: UnitOfWork, keys: list[str], reason: str | None, at: datetime) -> list[str]:
    """Mark the workspace's outbound messages with these Message-IDs bounced; returns their response ids."""
    if not keys:
        return []
    m = mail_messages
    conn = uow.tx.conn
    rows = conn.execute(
        select(m.c.response_id).where(
            m.c.workspace_id == uow.workspace_id,
            m.c.message_id.in_(keys[:100]),
            m.c.direction == "outbound",
            m.c.response_id.is_not(None),
        )
    ).all()
    out = []
    answer = reason or "a delivery report says the message could not be delivered"
    for row in rows:
        o = mail_outbox
        conn.execute(
            update(o)
            .where(o.c.workspace_id == uow.workspace_id, o.c.response_id == row.response_id)
            .values(status="bounced", answer=answer, next_attempt_at=None, updated_at=at)
        )
        attempts = conn.execute(
            select(o.c.attempts).where(
                o.c.workspace_id == uow.workspace_id, o.c.response_id == row.response_id
            )
        ).scalar()
        set_state(uow, row.response_id, "bounced", answer, int(attempts or 0), at)
        out.append(row.response_id)
    return out


def public_state(data: dict[str, Any]) -> str | None:
    return ((data.get("mail") or {}).get("delivery") or {}).get("state")
