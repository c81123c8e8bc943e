"""What the inbound adapters remember per mailbox (migration 0017): the IMAP watermark and health, and the
log of messages the pipeline refused for good (skipped, so a fetcher moves on instead of retrying forever).

The watermark is the last UID handed to the pipeline *and committed*, under the folder's UIDVALIDITY and the
server it came from (`source`): when either changes, the UIDs mean other messages and fetching restarts from
the first one, relying on the pipeline's Message-ID dedupe so nothing is stored twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Connection

from deskbase.core.clock import iso
from deskbase.core.errors import InvalidFilter
from deskbase.core.filters import decode_cursor, encode_cursor
from deskbase.core.ids import uuid7
from deskbase.core.tables import loop_state
from deskbase.mail.tables import inbound_state, mailboxes, skipped_messages

s = inbound_state
k = skipped_messages


@dataclass(frozen=True)
class State:
    source: str | None
    uidvalidity: int | None
    last_uid: int
    failures: int


@dataclass(frozen=True)
class Skip:
    """A message the pipeline refused for good, as the skip log records it."""

    ref: str
    code: str
    reason: str
    size: int | None = None
    message_id: str | None = None
    sender: str | None = None
    subject: str | None = None


def loop_name(ws: str, mid: str) -> str:
    """The name of the mailbox's fetch loop (its lease row in `loop_state`, which holds 63 characters)."""
    name = f"imap:{ws}/{mid}"
    return name if len(name) <= 63 else "imap:" + hashlib.sha256(name.encode()).hexdigest()[:40]


def _key(ws: str, mid: str) -> Any:
    return (s.c.workspace_id == ws) & (s.c.mailbox_id == mid)


def read(conn: Connection, ws: str, mid: str) -> State:
    row = conn.execute(select(s).where(_key(ws, mid))).first()
    if row is None:
        return State(None, None, 0, 0)
    return State(row.source, row.uidvalidity, int(row.last_uid), int(row.failures))


def _upsert(conn: Connection, ws: str, mid: str, now: datetime, **values: Any) -> None:
    """Update the mailbox's row (created on first use); `values` may use column expressions."""
    if conn.execute(select(s.c.mailbox_id).where(_key(ws, mid))).first() is None:
        conn.execute(
            insert(s).values(
                workspace_id=ws, mailbox_id=mid, last_uid=0, fetched=0, skipped=0, failures=0, updated_at=now
            )
        )
    conn.execute(sql_update(s).where(_key(ws, mid)).values(updated_at=now, **values))


def start_over(conn: Connection, ws: str, mid: str, source: str, uidvalidity: int, now: datetime) -> None:
    """The folder is new to us (another server or folder, or a new UIDVALIDITY): fetch from its first UID."""
    _upsert(conn, ws, mid, now, source=source, uidvalidity=uidvalidity, last_uid=0)


def advance(
    conn: Connection, ws: str, mid: str, uid: int, fetched: int, skip: Skip | None, now: datetime
) -> None:
    """Move the watermark to `uid` (after the pipeline committed what came before it), counting `fetched`
    messages and recording `skip` — one transaction, so the log and the watermark agree."""
    values: dict[str, Any] = {"last_uid": uid, "fetched": s.c.fetched + fetched}
    if skip is not None:
        values["skipped"] = s.c.skipped + 1
        conn.execute(
            insert(k).values(
                workspace_id=ws,
                mailbox_id=mid,
                id=uuid7(),
                source="imap",
                ref=skip.ref[:255],
                message_id=skip.message_id,
                sender=skip.sender,
                subject=skip.subject,
                size=skip.size,
                code=skip.code[:40],
                reason=skip.reason,
                at=now,
            )
        )
    _upsert(conn, ws, mid, now, **values)


def polled(conn: Connection, ws: str, mid: str, idle: bool, now: datetime) -> None:
    """A poll completed: the connection works (consecutive failures back to 0)."""
    _upsert(conn, ws, mid, now, last_poll_at=now, failures=0, idle=idle)


def failed(conn: Connection, ws: str, mid: str, error: str, now: datetime) -> int:
    """A poll failed (connection, login, folder, or the store); returns the consecutive failures."""
    _upsert(conn, ws, mid, now, last_error=error[:2000], last_error_at=now, failures=s.c.failures + 1)
    return int(conn.execute(select(s.c.failures).where(_key(ws, mid))).scalar_one())


def health(conn: Connection, ws: str, mid: str) -> dict[str, Any]:
    """The wire form of an IMAP mailbox's fetch health (all null/0 before its first poll)."""
    return _health(conn.execute(select(s).where(_key(ws, mid))).first())


def health_all(conn: Connection, ws: str) -> dict[str, dict[str, Any]]:
    """The fetch health of every mailbox of the workspace that has any (one query, for a list)."""
    rows = conn.execute(select(s).where(s.c.workspace_id == ws)).all()
    return {r.mailbox_id: _health(r) for r in rows}


def empty_health() -> dict[str, Any]:
    return _health(None)


def _health(row: Any) -> dict[str, Any]:
    if row is None:
        return {
            "last_poll_at": None,
            "last_error": None,
            "last_error_at": None,
            "failing": False,
            "fetched": 0,
            "skipped": 0,
            "idle": None,
            "uidvalidity": None,
            "last_uid": 0,
        }
    return {
        "last_poll_at": iso(row.last_poll_at) if row.last_poll_at else None,
        "last_error": row.last_error,
        "last_error_at": iso(row.last_error_at) if row.last_error_at else None,
        "failing": int(row.failures) > 0,
        "fetched": int(row.fetched),
        "skipped": int(row.skipped),
        "idle": row.idle,
        "uidvalidity": row.uidvalidity,
        "last_uid": int(row.last_uid),
    }


def skipped_page(conn: Connection, ws: str, mid: str, cursor: str | None, limit: int) -> dict[str, Any]:
    """A page of the skip log, newest first, inside the caller's read transaction."""
    q = select(k).where(k.c.workspace_id == ws, k.c.mailbox_id == mid)
    if cursor:
        (last,) = decode_cursor(cursor, 1)
        if not isinstance(last, str):
            raise InvalidFilter("invalid cursor", {"cursor": cursor})
        q = q.where(k.c.id < last)
    rows = conn.execute(q.order_by(k.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "data": [_skip_public(r) for r in rows],
        "next_cursor": encode_cursor([rows[-1].id]) if more else None,
    }


def _skip_public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "source": row.source,
        "ref": row.ref,
        "message_id": row.message_id,
        "from": row.sender,
        "subject": row.subject,
        "size": row.size,
        "code": row.code,
        "reason": row.reason,
        "at": iso(row.at),
    }


def forget(conn: Connection, ws: str, mid: str | None) -> None:
    """Inside the transaction that deletes a mailbox (`mid`) or a whole workspace (None), before the
    mailboxes go: their state, skip log and fetch-loop lease rows go too."""
    if mid is None:
        mids = list(conn.execute(select(mailboxes.c.id).where(mailboxes.c.workspace_id == ws)).scalars())
        conn.execute(delete(k).where(k.c.workspace_id == ws))
        conn.execute(delete(s).where(s.c.workspace_id == ws))
    else:
        mids = [mid]
        conn.execute(delete(k).where(k.c.workspace_id == ws, k.c.mailbox_id == mid))
        conn.execute(delete(s).where(_key(ws, mid)))
    names = [loop_name(ws, m) for m in mids]
    if names:
        conn.execute(delete(loop_state).where(loop_state.c.name.in_(names)))
