"""A trigger's health, read from its delivery log: what waits or failed, its last attempt, and its failure
rate over the last 24 hours and over its newest 100 deliveries.

Counts per status use the log's own conditions (`deliveries.selection`), so "3 failed" is the number of rows
the log filtered to `failed` lists. A failure rate counts settled deliveries only: delivered ones, and those
whose last attempt failed (`failed`, retrying, or `exhausted`); a pending one has no outcome yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from deskbase.core.clock import iso
from deskbase.events import deliveries
from deskbase.events.tables import webhook_attempts, webhook_deliveries

d = webhook_deliveries
DAY = timedelta(hours=24)
RECENT = 100
#: the 24-hour rate reads at most this many of the day's newest deliveries (a busy trigger's page stays fast)
DAY_CAP = 10_000
COUNTED = ("pending", "failed", "exhausted")
FAILED = ("failed", "exhausted")


@dataclass(frozen=True)
class Rate:
    """Settled deliveries of a window and how many of them failed."""

    settled: int
    failed: int
    capped: bool = False  #: the window may hold more deliveries than were read (see DAY_CAP)

    @property
    def share(self) -> float | None:
        return self.failed / self.settled if self.settled else None


@dataclass(frozen=True)
class LastAttempt:
    delivery_id: str
    at: datetime
    status: int | None  #: the HTTP status, None when no answer came
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Health:
    counts: dict[str, int]  #: deliveries per status in COUNTED (what the log filtered to it lists)
    last: LastAttempt | None
    day: Rate  #: deliveries queued in the last 24 hours
    recent: Rate  #: the newest RECENT deliveries


def _rate(conn: Connection, ws: str, tid: str, extra: list[Any], cap: int) -> Rate:
    """Outcomes of the newest `cap` deliveries of the log that also meet `extra`."""
    newest = (
        select(d.c.status)
        .where(*deliveries.selection(ws, tid, None), *extra)
        .order_by(d.c.id.desc())
        .limit(cap)
        .subquery()
    )
    rows = conn.execute(select(newest.c.status, func.count()).group_by(newest.c.status)).all()
    by_status = {str(status): int(n) for status, n in rows}
    failed = sum(by_status.get(s, 0) for s in FAILED)
    return Rate(failed + by_status.get("delivered", 0), failed, sum(by_status.values()) >= cap)


def read_health(conn: Connection, ws: str, tid: str, now: datetime) -> Health:
    """The trigger's health at `now` (inside the caller's read transaction)."""
    counts = {
        s: int(conn.execute(select(func.count()).where(*deliveries.selection(ws, tid, s))).scalar_one())
        for s in COUNTED
    }
    a = webhook_attempts
    newest = (
        select(d.c.id)
        .where(d.c.workspace_id == ws, d.c.trigger_id == tid, d.c.last_attempt_at.is_not(None))
        .order_by(d.c.last_attempt_at.desc(), d.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    last = conn.execute(
        select(a.c.delivery_id, a.c.at, a.c.status, a.c.error)
        .where(a.c.delivery_id == newest)
        .order_by(a.c.n.desc())
        .limit(1)
    ).first()
    return Health(
        counts=counts,
        last=LastAttempt(last.delivery_id, last.at, last.status, last.error) if last else None,
        day=_rate(conn, ws, tid, [d.c.created_at >= now - DAY], DAY_CAP),
        recent=_rate(conn, ws, tid, [], RECENT),
    )


def public(h: Health) -> dict[str, Any]:
    """The wire form (the API's `health` of a trigger)."""

    def rate(r: Rate) -> dict[str, Any]:
        return {"settled": r.settled, "failed": r.failed, "failure_rate": r.share, "capped": r.capped}

    return {
        "counts": dict(h.counts),
        "last_attempt": {
            "delivery_id": h.last.delivery_id,
            "at": iso(h.last.at),
            "status": h.last.status,
            "error": h.last.error,
            "ok": h.last.ok,
        }
        if h.last
        else None,
        "last_24h": rate(h.day),
        "last_100": rate(h.recent),
    }
