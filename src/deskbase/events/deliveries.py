"""Deliveries: the per-trigger queue and its log (attempts with status, duration, error, response head).

Statuses: `pending` (not tried yet, or queued again by retry/replay), `failed` (tried, will retry at
`next_attempt_at`), `delivered` (acknowledged with a 2xx: never sent again unless retried or replayed
explicitly), `exhausted` (the retry schedule ran out: the dead letter).

Head-of-line rule: per (trigger, order key) — the record, or the ticket for messages and SLA events — only
the oldest open delivery (lowest seq, then id) may be sent; later ones wait while it retries, and go once it
is delivered or exhausted. Other keys and other triggers never wait for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, delete, exists, func, insert, or_, select, tuple_, update
from sqlalchemy.engine import Connection

from deskbase.core import bulk
from deskbase.core.clock import iso
from deskbase.core.errors import InvalidFilter, NotFound
from deskbase.core.filters import decode_cursor, encode_cursor
from deskbase.core.ids import uuid7
from deskbase.events.matching import Event
from deskbase.events.retry import Outcome
from deskbase.events.sender import Result
from deskbase.events.tables import triggers, webhook_attempts, webhook_deliveries

d = webhook_deliveries
OPEN = ("pending", "failed")
STATUSES = ("pending", "failed", "delivered", "exhausted")


def next_version(conn: Connection) -> int:
    """Versions order delivery updates for the replica: a change-log seq of their own (drawn, no change row
    written), so the replicator copies the row with the changes around it once the log's horizon passes it
    (see events/replication.py). SQLite hands the next change the same number: copied with it."""
    return bulk.allocate_seqs(conn, 1)[0]


def enqueue(
    conn: Connection, pairs: Iterable[tuple[str, Event]], origin: str, now: datetime, prefix: str = ""
) -> int:
    """Queue (trigger id, event) pairs; an event already queued for a trigger (same dedupe key) is skipped,
    so reading the outbox twice after a crash queues nothing twice."""
    rows: list[dict[str, Any]] = []
    version = next_version(conn)
    for tid, ev in pairs:
        rows.append(
            {
                "id": uuid7(),
                "workspace_id": ev.workspace_id,
                "trigger_id": tid,
                "event_id": ev.id,
                "dedupe_key": prefix + ev.id,
                "event_type": ev.type,
                "seq": ev.seq,
                "order_key": ev.order_key,
                "payload": orjson.dumps(ev.body()).decode(),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "origin": origin,
                "version": version,
                "created_at": now,
                "updated_at": now,
            }
        )
    if not rows:
        return 0
    seen: set[tuple[str, str, str]] = set()
    for ws, tid in {(r["workspace_id"], r["trigger_id"]) for r in rows}:
        keys = [r["dedupe_key"] for r in rows if r["workspace_id"] == ws and r["trigger_id"] == tid]
        for i in range(0, len(keys), 500):
            seen |= {
                (ws, tid, k)
                for k in conn.execute(
                    select(d.c.dedupe_key).where(
                        d.c.workspace_id == ws, d.c.trigger_id == tid, d.c.dedupe_key.in_(keys[i : i + 500])
                    )
                ).scalars()
            }
    fresh = [r for r in rows if (r["workspace_id"], r["trigger_id"], r["dedupe_key"]) not in seen]
    if fresh:
        conn.execute(insert(d), fresh)
    return len(fresh)


def _due_statement(one_trigger: bool) -> Any:
    e = d.alias("earlier")
    blocked = exists().where(
        e.c.workspace_id == d.c.workspace_id,
        e.c.trigger_id == d.c.trigger_id,
        e.c.order_key == d.c.order_key,
        e.c.status.in_(OPEN),
        # (seq, id) before this one's, spelt so that the queue index's seq range bounds the probe: a bare OR
        # made SQLite scan every delivery of the trigger with a smaller id (ix_..._log), per row.
        e.c.seq <= d.c.seq,
        or_(e.c.seq < d.c.seq, e.c.id < d.c.id),
    )
    return (
        select(d.c.id, d.c.workspace_id, d.c.trigger_id)
        .join(triggers, and_(triggers.c.workspace_id == d.c.workspace_id, triggers.c.id == d.c.trigger_id))
        .where(
            d.c.status.in_(OPEN),
            d.c.next_attempt_at <= bindparam("now"),
            triggers.c.enabled.is_(True),
            ~blocked,
            *(
                (d.c.workspace_id == bindparam("ws"), d.c.trigger_id == bindparam("trigger"))
                if one_trigger
                else (~tuple_(d.c.workspace_id, d.c.trigger_id).in_(bindparam("skip", expanding=True)),)
            ),
        )
        .limit(bindparam("limit"))
    )


# Built once: the dispatcher asks on every turn, and building these costs more than running them.
_DUE = _due_statement(False)
_DUE_FOR_TRIGGER = _due_statement(True)
_NEXT_DUE = (
    select(func.min(d.c.next_attempt_at))
    .join(triggers, and_(triggers.c.workspace_id == d.c.workspace_id, triggers.c.id == d.c.trigger_id))
    .where(d.c.status.in_(OPEN), triggers.c.enabled.is_(True))
)


def due(conn: Connection, now: datetime, limit: int, skip: Sequence[tuple[str, str]] = ()) -> list[Any]:
    """Open deliveries of enabled triggers whose time has come and that head their (trigger, key) queue,
    leaving out the (workspace, trigger) pairs in `skip`: those whose lanes are all busy. Listed, a stuck
    endpoint's backlog (oldest first) would fill `limit` and hide every other trigger's new deliveries.

    Unsorted on purpose: the heads of different queues may go out in any order (each queue's own order is
    what `blocked` keeps), and without a sort the store stops at `limit` instead of probing every open row —
    the difference between ~80 and >1,000 deliveries/s with a few thousand queued. The due index still
    yields them roughly oldest first."""
    return list(conn.execute(_DUE, {"now": now, "limit": limit, "skip": list(skip)}).all())


def due_for_trigger(conn: Connection, ws: str, trigger_id: str, now: datetime, limit: int) -> list[Any]:
    """`due`, for one trigger (what a lane claims next)."""
    params = {"now": now, "limit": limit, "ws": ws, "trigger": trigger_id}
    return list(conn.execute(_DUE_FOR_TRIGGER, params).all())


_NEXT_DUE_AFTER = _NEXT_DUE.where(d.c.next_attempt_at > bindparam("after"))


def next_due(conn: Connection, after: datetime | None = None) -> datetime | None:
    """When the next open delivery of an enabled trigger is due (only those due after `after`, if given)."""
    if after is None:
        return conn.execute(_NEXT_DUE).scalar()  # type: ignore[no-any-return]
    return conn.execute(_NEXT_DUE_AFTER, {"after": after}).scalar()  # type: ignore[no-any-return]


# Built once, run with many parameter sets: a lane stores its attempts as one executemany each.
_ADD_ATTEMPT = insert(webhook_attempts).values(
    delivery_id=bindparam("a_delivery"),
    n=bindparam("a_n"),
    at=bindparam("a_at"),
    status=bindparam("a_status"),
    duration_ms=bindparam("a_duration"),
    error=bindparam("a_error"),
    response=bindparam("a_response"),
)
_SET_OUTCOME = (
    update(d)
    .where(d.c.id == bindparam("d_id"))
    .values(
        status=bindparam("d_status"),
        attempts=bindparam("d_attempts"),
        next_attempt_at=bindparam("d_next"),
        last_status=bindparam("d_last_status"),
        last_error=bindparam("d_last_error"),
        updated_at=bindparam("d_now"),
        delivered_at=bindparam("d_delivered"),
        last_attempt_at=bindparam("d_at"),
        version=bindparam("d_version"),
    )
)


def record(conn: Connection, done: Sequence[tuple[Any, datetime, Result, Outcome, datetime]]) -> None:
    """Store attempts (row, attempted at, result, outcome, now) and what follows from them, inside the caller's
    transaction: two statements for the lot, whatever its size. One version serves them all (each delivery
    appears once; the replica keeps a row's highest version)."""
    if not done:
        return
    version = next_version(conn)
    attempts, outcomes = [], []
    for row, at, result, out, now in done:
        n = int(row.attempts) + 1
        attempts.append(
            {
                "a_delivery": row.id,
                "a_n": n,
                "a_at": at,
                "a_status": result.status,
                "a_duration": result.duration_ms,
                "a_error": result.error,
                "a_response": result.response,
            }
        )
        outcomes.append(
            {
                "d_id": row.id,
                "d_status": out.status,
                "d_attempts": n,
                "d_next": out.next_attempt_at,
                "d_last_status": result.status,
                "d_last_error": result.error,
                "d_now": now,
                "d_delivered": now if out.status == "delivered" else None,
                "d_at": at,
                "d_version": version,
            }
        )
    conn.execute(_ADD_ATTEMPT, attempts)
    conn.execute(_SET_OUTCOME, outcomes)


def public(row: Any, attempts: list[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "trigger_id": row.trigger_id,
        "event_id": row.event_id,
        "type": row.event_type,
        "seq": row.seq,
        "status": row.status,
        "origin": row.origin,
        "next_attempt_at": iso(row.next_attempt_at) if row.next_attempt_at and row.status in OPEN else None,
        "created_at": iso(row.created_at),
        "delivered_at": iso(row.delivered_at) if row.delivered_at else None,
        "attempts": [
            {
                "at": iso(a.at),
                "status": a.status,
                "duration_ms": a.duration_ms,
                "error": a.error,
                "response": a.response,
            }
            for a in attempts
        ],
    }


def selection(ws: str, tid: str, status: str | None) -> list[Any]:
    """The conditions of a trigger's log, optionally of one status: the log lists them and the health
    counts count them, so a count shown beside a trigger is the number of rows its filtered log has."""
    if status is not None and status not in STATUSES:
        raise InvalidFilter(f"status is one of {', '.join(STATUSES)}", {"status": status})
    where = [d.c.workspace_id == ws, d.c.trigger_id == tid]
    return where if status is None else [*where, d.c.status == status]


def log(
    conn: Connection, ws: str, tid: str, cursor: str | None, limit: int, status: str | None
) -> dict[str, Any]:
    """Newest first, by cursor."""
    q = select(d).where(*selection(ws, tid, status))
    if cursor:
        (last,) = decode_cursor(cursor, 1)
        if not isinstance(last, str):
            raise InvalidFilter("invalid cursor", {"cursor": cursor})
        q = q.where(d.c.id < last)
    rows = conn.execute(q.order_by(d.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    by_id: dict[str, list[Any]] = {r.id: [] for r in rows}
    if rows:
        for a in conn.execute(
            select(webhook_attempts)
            .where(webhook_attempts.c.delivery_id.in_(list(by_id)))
            .order_by(webhook_attempts.c.delivery_id, webhook_attempts.c.n)
        ):
            by_id[a.delivery_id].append(a)
    return {
        "data": [public(r, by_id[r.id]) for r in rows],
        "next_cursor": encode_cursor([rows[-1].id]) if more else None,
    }


def one(conn: Connection, ws: str, delivery_id: str) -> Any:
    row = conn.execute(select(d).where(d.c.workspace_id == ws, d.c.id == delivery_id)).first()
    if row is None:
        raise NotFound(f"delivery {delivery_id!r} not found", {"delivery": delivery_id})
    return row


def attempts_of(conn: Connection, delivery_id: str) -> list[Any]:
    a = webhook_attempts
    return list(conn.execute(select(a).where(a.c.delivery_id == delivery_id).order_by(a.c.n)).all())


def requeue(conn: Connection, row: Any, now: datetime) -> None:
    """Send again as soon as its queue allows (an explicit retry: also for delivered or exhausted ones)."""
    conn.execute(
        update(d)
        .where(d.c.id == row.id)
        .values(status="pending", next_attempt_at=now, updated_at=now, version=next_version(conn))
    )


def prune(conn: Connection, before: datetime) -> int:
    """Forget up to `PRUNE_BATCH` finished deliveries (and their attempts) last touched before `before`."""
    old = (
        select(d.c.id)
        .where(d.c.status.in_(("delivered", "exhausted")), d.c.updated_at < before)
        .limit(PRUNE_BATCH)
    )
    ids = list(conn.execute(old).scalars())
    if ids:
        conn.execute(delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(ids)))
        conn.execute(delete(d).where(d.c.id.in_(ids)))
    return len(ids)


RETENTION_STEP = timedelta(hours=1)
#: Rows one pruning statement forgets (ingest-log entries too): one short transaction each.
PRUNE_BATCH = 1000
