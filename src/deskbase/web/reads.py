""" "New since you looked": a ticket is marked in an agent's queue when something touched it (a field change,
a new message or note) after they last opened it. Tickets they never opened are not marked: the queue is
already the list of those.

Opening a ticket records the workspace's change sequence at that moment; a ticket's latest activity is the
highest of its own version and the versions of its `has_response` links (a message does not change the ticket
record). Changes the agent makes through the console count as seen. Two indexed queries per queue page.
"""

from __future__ import annotations

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError

from deskbase.core import tables as t
from deskbase.core.clock import Clock
from deskbase.core.db import Database


class Reads:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def mark(self, workspace_id: str, ticket_ids: list[str], actor_id: str, seq: int) -> None:
        """The agent has seen these tickets as of change `seq` (never moves back)."""
        r = t.ticket_reads
        now = self.clock.now()
        with self.db.tx() as tx:
            for tid in ticket_ids:
                key = and_(r.c.workspace_id == workspace_id, r.c.ticket_id == tid, r.c.actor_id == actor_id)
                done = tx.conn.execute(
                    update(r).where(key, r.c.seen_seq < seq).values(seen_seq=seq, seen_at=now)
                ).rowcount
                if done or tx.conn.execute(select(r.c.seen_seq).where(key)).first() is not None:
                    continue
                try:
                    with tx.conn.begin_nested():
                        tx.conn.execute(
                            r.insert().values(
                                workspace_id=workspace_id,
                                ticket_id=tid,
                                actor_id=actor_id,
                                seen_seq=seq,
                                seen_at=now,
                            )
                        )
                except IntegrityError:  # another tab recorded it first
                    pass

    def changed_since_seen(self, workspace_id: str, actor_id: str, versions: dict[str, int]) -> set[str]:
        """Of these tickets (id -> record version), those touched after this agent last opened them."""
        if not versions:
            return set()
        r, rel = t.ticket_reads, t.relationships
        ids = list(versions)
        with self.db.read() as conn:
            seen = dict(
                conn.execute(
                    select(r.c.ticket_id, r.c.seen_seq).where(
                        r.c.workspace_id == workspace_id, r.c.actor_id == actor_id, r.c.ticket_id.in_(ids)
                    )
                ).all()
            )
            if not seen:
                return set()
            latest = dict(versions)
            for tid, v in conn.execute(
                select(rel.c.source_id, func.max(rel.c.version))
                .where(
                    rel.c.workspace_id == workspace_id,
                    rel.c.source_collection == "tickets",
                    rel.c.source_id.in_(list(seen)),
                    rel.c.rel_type == "has_response",
                )
                .group_by(rel.c.source_id)
            ):
                latest[tid] = max(latest[tid], int(v or 0))
        return {tid for tid, s in seen.items() if latest[tid] > s}
