"""The outbox: outbound messages waiting to leave, their attempts, and the order they leave in.

Statuses: `queued` (waiting for its first attempt, or for a retry at `next_attempt_at`), `sent` (the SMTP
server took it: 2xx), `failed` (a 5xx, the retries ran out, or it cannot be sent — its mailbox is gone or
has no SMTP server, its reply was deleted; `requeue` sends it again), `bounced` (a delivery report named it).

One row per response (`ux_mail_outbox_response`): queueing the same reply twice queues nothing. Head of line:
per ticket only the oldest queued row (ids are time-ordered) may go, so two replies on a thread arrive in the
order they were written, and a reply waiting for a retry holds the ones after it. Other threads never wait.
The MIME text is kept until the message is sent; after that the response and its files are the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, insert, select, update
from sqlalchemy.engine import Connection

from deskbase.core.clock import iso
from deskbase.core.errors import InvalidFilter, NotFound
from deskbase.core.filters import decode_cursor, encode_cursor
from deskbase.core.ids import uuid7
from deskbase.mail.tables import mail_attempts, mail_messages, mail_outbox

o = mail_outbox
STATUSES = ("queued", "sent", "failed", "bounced")
ACK_PREFIX = "ack:"
#: A notification email (deskbase.notify): no reply or ticket of its own, and never threaded back.
NOTIFY = "notify"


@dataclass(frozen=True)
class Queued:
    """One message to queue."""

    workspace_id: str
    mailbox_id: str
    ticket_id: str
    #: `ack:<ticket id>` for an acknowledgement, `notify:<user>:<source>` for a notification,
    #: `reset:<user>:<uuid>` for a password reset email (mail/password_reset.py)
    response_id: str
    kind: str  # reply | ack | notify
    message_id: str
    sender: str
    recipients: list[str]
    message: str


# Built once: queueing runs them for every reply.
_QUEUED = select(o.c.id).where(o.c.workspace_id == bindparam("ws"), o.c.response_id == bindparam("rid"))
_INSERT = insert(o)
_INDEX = insert(mail_messages)


def queued(conn: Connection, ws: str, response_id: str) -> bool:
    """Has the response a row already?"""
    return conn.execute(_QUEUED, {"ws": ws, "rid": response_id}).first() is not None


def enqueue(conn: Connection, q: Queued, now: datetime) -> str | None:
    """Queue the message and index its Message-ID (so the customer's answer threads back to the ticket);
    None when the response has a row already."""
    if queued(conn, q.workspace_id, q.response_id):
        return None
    oid = uuid7()
    conn.execute(
        _INSERT,
        {
            "id": oid,
            "workspace_id": q.workspace_id,
            "mailbox_id": q.mailbox_id,
            "ticket_id": q.ticket_id,
            "response_id": q.response_id,
            "kind": q.kind,
            "message_id": q.message_id,
            "envelope": {"from": q.sender, "to": q.recipients},
            "message": q.message,
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "answer": None,
            "created_at": now,
            "updated_at": now,
        },
    )
    if q.kind == NOTIFY:  # an answer to a notification email must not thread onto a ticket
        return oid
    conn.execute(
        _INDEX,
        {
            "workspace_id": q.workspace_id,
            "mailbox_id": q.mailbox_id,
            "message_id": q.message_id,
            "direction": "outbound",
            "status": "stored",
            "ticket_id": q.ticket_id,
            "response_id": None if q.kind == "ack" else q.response_id,
            "created_at": now,
        },
    )
    return oid


def thread_keys(conn: Connection, ws: str, ticket_id: str, newest: int = 19) -> list[str]:
    """The stored Message-IDs of a ticket's thread, oldest first: its first message and the `newest` last
    (two index reads, however long the thread)."""
    m = mail_messages
    base = select(m.c.message_id, m.c.created_at).where(m.c.workspace_id == ws, m.c.ticket_id == ticket_id)
    first = conn.execute(base.order_by(m.c.created_at, m.c.message_id).limit(1)).all()
    last = conn.execute(base.order_by(m.c.created_at.desc(), m.c.message_id.desc()).limit(newest)).all()
    keys = [r.message_id for r in first]
    return keys + [r.message_id for r in reversed(last) if r.message_id not in keys]


def _due_statement() -> Any:
    earlier = o.alias("earlier")
    blocked = exists().where(
        earlier.c.workspace_id == o.c.workspace_id,
        earlier.c.ticket_id == o.c.ticket_id,
        earlier.c.status == "queued",
        earlier.c.id < o.c.id,
    )
    return (
        select(o.c.id, o.c.workspace_id, o.c.mailbox_id)
        .where(o.c.status == "queued", o.c.next_attempt_at <= bindparam("now"), ~blocked)
        .order_by(o.c.id)
        .limit(bindparam("limit"))
    )


# Built once: the loop asks on every turn.
_DUE = _due_statement()
_NEXT_DUE = select(func.min(o.c.next_attempt_at)).where(o.c.status == "queued")


def due(
    conn: Connection, now: datetime, limit: int, ws: str | None = None, mailbox: str | None = None
) -> list[Any]:
    """Queued rows whose time has come and that head their thread, oldest first (of one mailbox, if named)."""
    q = _DUE
    if ws is not None:
        q = q.where(o.c.workspace_id == ws, o.c.mailbox_id == mailbox)
    return list(conn.execute(q, {"now": now, "limit": limit}).all())


def next_due(conn: Connection) -> datetime | None:
    return conn.execute(_NEXT_DUE).scalar()  # type: ignore[no-any-return]


def rows(conn: Connection, ids: list[str]) -> list[Any]:
    return list(conn.execute(select(o).where(o.c.id.in_(ids)).order_by(o.c.id)).all())


def record(
    conn: Connection,
    row: Any,
    at: datetime,
    code: int | None,
    answer: str,
    duration_ms: int,
    status: str,
    next_attempt_at: datetime | None,
    now: datetime,
) -> int | None:
    """Store one attempt and what follows from it; returns the row's attempts, or None when the row left
    `queued` meanwhile (a delivery report marked it bounced): it keeps its status, the attempt is logged."""
    n = int(
        conn.execute(select(func.max(mail_attempts.c.n)).where(mail_attempts.c.outbox_id == row.id)).scalar()
        or 0
    )
    conn.execute(
        insert(mail_attempts).values(
            outbox_id=row.id, n=n + 1, at=at, code=code, answer=answer[:1000], duration_ms=duration_ms
        )
    )
    attempts = int(row.attempts) + 1
    values: dict[str, Any] = {
        "status": status,
        "attempts": attempts,
        "next_attempt_at": next_attempt_at,
        "answer": answer[:1000],
        "updated_at": now,
    }
    if status == "sent":
        values["message"] = ""
    done = conn.execute(update(o).where(o.c.id == row.id, o.c.status == "queued").values(**values))
    return attempts if done.rowcount else None


def fail(conn: Connection, row: Any, reason: str, now: datetime) -> bool:
    """Give up on a queued row without an attempt (nothing was sent: its mailbox or its reply is gone)."""
    done = conn.execute(
        update(o)
        .where(o.c.id == row.id, o.c.status == "queued")
        .values(status="failed", next_attempt_at=None, answer=reason, updated_at=now)
    )
    return bool(done.rowcount)


def postpone(conn: Connection, ws: str, mailbox: str, until: datetime, now: datetime) -> None:
    """The mailbox's server could not be reached: its other queued messages wait as long as the one that
    tried (no attempt is counted for them), instead of each timing out against it in turn."""
    conn.execute(
        update(o)
        .where(
            o.c.workspace_id == ws,
            o.c.mailbox_id == mailbox,
            o.c.status == "queued",
            o.c.next_attempt_at < until,
        )
        .values(next_attempt_at=until, updated_at=now)
    )


def requeue(conn: Connection, row: Any, now: datetime) -> None:
    """A failed message, queued again with a fresh retry schedule (its attempt log is kept)."""
    conn.execute(
        update(o)
        .where(o.c.id == row.id)
        .values(status="queued", attempts=0, next_attempt_at=now, answer=None, updated_at=now)
    )


def bounced(conn: Connection, ws: str, keys: list[str], answer: str, now: datetime) -> list[Any]:
    """Mark the workspace's messages with these Message-IDs bounced; returns their rows (before the change)."""
    found = list(conn.execute(select(o).where(o.c.workspace_id == ws, o.c.message_id.in_(keys))).all())
    if found:
        conn.execute(
            update(o)
            .where(o.c.id.in_([r.id for r in found]))
            .values(status="bounced", answer=answer[:1000], next_attempt_at=None, updated_at=now)
        )
    return found


# ---- reading ---------------------------------------------------------------------------------------
def public(row: Any, attempts: list[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "mailbox_id": row.mailbox_id,
        "kind": row.kind,
        "ticket_id": row.ticket_id,
        "response_id": row.response_id if row.kind == "reply" else None,
        "message_id": row.message_id,
        "from": row.envelope.get("from"),
        "to": row.envelope.get("to", []),
        "status": row.status,
        "attempts": row.attempts,
        "answer": row.answer,
        "next_attempt_at": iso(row.next_attempt_at)
        if row.next_attempt_at and row.status == "queued"
        else None,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "log": [
            {"n": a.n, "at": iso(a.at), "code": a.code, "answer": a.answer, "duration_ms": a.duration_ms}
            for a in attempts
        ],
    }


def _attempts(conn: Connection, ids: list[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {i: [] for i in ids}
    if ids:
        a = mail_attempts
        for r in conn.execute(select(a).where(a.c.outbox_id.in_(ids)).order_by(a.c.outbox_id, a.c.n)):
            out[r.outbox_id].append(r)
    return out


def page(
    conn: Connection, ws: str, mailbox: str, cursor: str | None, limit: int, status: str | None
) -> dict[str, Any]:
    """A mailbox's outbox, newest first, by cursor; optionally of one status."""
    if status is not None and status not in STATUSES:
        raise InvalidFilter(f"status is one of {', '.join(STATUSES)}", {"status": status})
    q = select(o).where(o.c.workspace_id == ws, o.c.mailbox_id == mailbox)
    if status is not None:
        q = q.where(o.c.status == status)
    if cursor:
        (last,) = decode_cursor(cursor, 1)
        if not isinstance(last, str):
            raise InvalidFilter("invalid cursor", {"cursor": cursor})
        q = q.where(o.c.id < last)
    found = conn.execute(q.order_by(o.c.id.desc()).limit(limit + 1)).all()
    more = len(found) > limit
    found = found[:limit]
    logs = _attempts(conn, [r.id for r in found])
    return {
        "data": [public(r, logs[r.id]) for r in found],
        "next_cursor": encode_cursor([found[-1].id]) if more else None,
    }


def one(conn: Connection, ws: str, mailbox: str, oid: str) -> Any:
    row = conn.execute(
        select(o).where(and_(o.c.workspace_id == ws, o.c.mailbox_id == mailbox, o.c.id == oid))
    ).first()
    if row is None:
        raise NotFound(f"outbox message {oid!r} not found", {"outbox_id": oid})
    return row


def one_public(conn: Connection, ws: str, mailbox: str, oid: str) -> dict[str, Any]:
    row = one(conn, ws, mailbox, oid)
    return public(row, _attempts(conn, [row.id])[row.id])
