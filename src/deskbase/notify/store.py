"""The notifications store: a user's notifications in one workspace, paged, counted and marked read; and the
insert the fan-out loop uses. Every read and write names the user: nobody reaches another's rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from deskbase.core.clock import iso
from deskbase.core.errors import InvalidFilter, NotFound
from deskbase.core.filters import decode_cursor, encode_cursor
from deskbase.core.ids import uuid7
from deskbase.notify.derive import Candidate
from deskbase.notify.kinds import KINDS
from deskbase.notify.tables import notifications

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

n = notifications
ORDERS = ("unread", "newest")


def public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "workspace": row.workspace_id,
        "kind": row.kind,
        "title": KINDS[row.kind].label if row.kind in KINDS else row.kind,
        "ticket_id": row.ticket_id,
        "actor": {"id": row.actor, "name": row.actor_name} if row.actor or row.actor_name else None,
        "data": row.data,
        "created_at": iso(row.created_at),
        "read_at": iso(row.read_at) if row.read_at else None,
        "read": row.read_at is not None,
    }


def store(conn: Connection, found: list[Candidate], now: datetime) -> list[tuple[str, Candidate]]:
    """Inside the loop's transaction: store the candidates not stored before; returns them with their ids."""
    out: list[tuple[str, Candidate]] = []
    for c in found:
        exists = conn.execute(
            select(n.c.id).where(n.c.user_id == c.user_id, n.c.source_key == c.source_key)
        ).first()
        if exists is not None:
            continue  # a re-read of a change (at-least-once): told once
        nid = uuid7()
        conn.execute(
            insert(n).values(
                id=nid,
                workspace_id=c.workspace_id,
                user_id=c.user_id,
                kind=c.kind,
                ticket_id=c.ticket_id,
                actor=c.actor,
                actor_name=c.actor_name,
                source_key=c.source_key,
                data=c.data,
                created_at=now,
                read_at=None,
            )
        )
        out.append((nid, c))
    return out


class Store:
    def __init__(self, core: Deskbase) -> None:
        self.core = core

    def page(
        self,
        ws: str,
        user_id: str,
        order: str = "unread",
        limit: int = 50,
        cursor: str | None = None,
        unread_only: bool = False,
    ) -> dict[str, Any]:
        """`unread` order: unread newest first, then read newest first; `newest`: newest first."""
        if order not in ORDERS:
            raise InvalidFilter(f"order is one of {', '.join(ORDERS)}", {"order": order})
        phases = [0] if unread_only else ([0, 1] if order == "unread" else [2])
        phase, last = phases[0], None
        if cursor:
            phase, last = decode_cursor(cursor, 2)
            if phase not in phases or not isinstance(last, str):
                raise InvalidFilter("cursor does not belong to this order", {"cursor": cursor})
        with self.core.db.read() as conn:
            self.core.workspaces.require(conn, ws)
            rows: list[tuple[int, Any]] = []
            more = False
            for p in [p for p in phases if p >= phase]:
                q = select(n).where(n.c.workspace_id == ws, n.c.user_id == user_id)
                if p == 0:
                    q = q.where(n.c.read_at.is_(None))
                elif p == 1:
                    q = q.where(n.c.read_at.is_not(None))
                if last is not None and p == phase:
                    q = q.where(n.c.id < last)
                room = limit - len(rows)
                got = conn.execute(q.order_by(n.c.id.desc()).limit(room + 1)).all()
                more = len(got) > room
                rows += [(p, r) for r in got[:room]]
                if len(rows) >= limit:
                    more = more or p != phases[-1]
                    break
            unread = self._unread(conn, ws, user_id)
        next_cursor = encode_cursor([rows[-1][0], rows[-1][1].id]) if more and rows else None
        return {"data": [public(r) for _, r in rows], "next_cursor": next_cursor, "unread": unread}

    @staticmethod
    def _unread(conn: Connection, ws: str, user_id: str) -> int:
        q = select(func.count()).where(n.c.workspace_id == ws, n.c.user_id == user_id, n.c.read_at.is_(None))
        return int(conn.execute(q).scalar() or 0)

    def unread(self, ws: str, user_id: str) -> int:
        with self.core.db.read() as conn:
            return self._unread(conn, ws, user_id)

    def after(
        self, ws: str, user_id: str, last: str | None, limit: int = 100
    ) -> tuple[list[dict[str, Any]], int]:
        """The user's notifications newer than `last` (oldest first, for the live stream) and the unread
        count. Without `last`: none, only the count."""
        with self.core.db.read() as conn:
            rows: list[Any] = []
            if last is not None:
                q = select(n).where(n.c.workspace_id == ws, n.c.user_id == user_id, n.c.id > last)
                rows = list(conn.execute(q.order_by(n.c.id).limit(limit)).all())
            return [public(r) for r in rows], self._unread(conn, ws, user_id)

    def latest_id(self, ws: str, user_id: str) -> str:
        """Where a new stream starts: after the newest notification (or from the beginning)."""
        with self.core.db.read() as conn:
            q = select(func.max(n.c.id)).where(n.c.workspace_id == ws, n.c.user_id == user_id)
            return str(conn.execute(q).scalar() or "")

    def mark_read(self, ws: str, user_id: str, nid: str) -> dict[str, Any]:
        """Mark one of the user's notifications read (again: it keeps the first time)."""
        now = self.core.clock.now()
        with self.core.db.tx() as tx:
            self.core.workspaces.require(tx.conn, ws)
            mine = (n.c.id == nid, n.c.workspace_id == ws, n.c.user_id == user_id)
            row = tx.conn.execute(select(n).where(*mine)).first()
            if row is None:  # another user's looks exactly like one that does not exist
                raise NotFound(f"notification {nid!r} not found", {"notification": nid})
            if row.read_at is None:
                tx.conn.execute(update(n).where(*mine).values(read_at=now))
            row = tx.conn.execute(select(n).where(*mine)).one()
        return public(row)

    def mark_all(self, ws: str, user_id: str) -> int:
        """Mark every unread notification of the user in the workspace read; returns how many."""
        now = self.core.clock.now()
        with self.core.db.tx() as tx:
            self.core.workspaces.require(tx.conn, ws)
            done = tx.conn.execute(
                update(n)
                .where(n.c.workspace_id == ws, n.c.user_id == user_id, n.c.read_at.is_(None))
                .values(read_at=now)
            )
        return int(done.rowcount or 0)
