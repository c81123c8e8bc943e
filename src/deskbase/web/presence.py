"""Who else has a ticket open, and whether they are writing on it (collision warnings, as agents expect of a
shared inbox).

Each open ticket page sends a heartbeat every `BEAT_SECONDS` with its state (viewing, or replying while the
composer holds text); a row not refreshed within `TTL` means the agent left. Rows live in the primary store
(not in process memory), so agents served by different server processes see each other. Presence is not
data: it bypasses the change log and the replica, and stale rows are pruned as beats arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, select, update
from sqlalchemy.exc import IntegrityError

from deskbase.core import tables as t
from deskbase.core.clock import Clock
from deskbase.core.db import Database

BEAT_SECONDS = 20
TTL = timedelta(seconds=3 * BEAT_SECONDS - 5)  #: two missed beats and a bit: gone
PRUNE_EVERY = timedelta(minutes=1)
STATES = ("viewing", "replying")


@dataclass(frozen=True)
class Present:
    name: str
    state: str  #: viewing | replying
    seen_at: datetime


class Presence:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._pruned = datetime.min.replace(tzinfo=clock.now().tzinfo)

    def beat(self, workspace_id: str, ticket_id: str, actor_id: str, name: str, state: str) -> list[Present]:
        """Record that `actor_id` has the ticket open (in `state`); returns the others who do."""
        state = state if state in STATES else "viewing"
        now = self.clock.now()
        p = t.presence
        key = and_(p.c.workspace_id == workspace_id, p.c.ticket_id == ticket_id, p.c.actor_id == actor_id)
        with self.db.tx() as tx:
            done = tx.conn.execute(update(p).where(key).values(state=state, seen_at=now, actor_name=name))
            if not done.rowcount:
                try:
                    with tx.conn.begin_nested():
                        tx.conn.execute(
                            p.insert().values(
                                workspace_id=workspace_id,
                                ticket_id=ticket_id,
                                actor_id=actor_id,
                                actor_name=name,
                                state=state,
                                seen_at=now,
                            )
                        )
                except IntegrityError:  # the same agent in two tabs raced us: theirs is as good as ours
                    pass
            if now - self._pruned >= PRUNE_EVERY:
                self._pruned = now
                tx.conn.execute(delete(p).where(p.c.seen_at < now - TTL))
        return self.others(workspace_id, ticket_id, actor_id)

    def others(self, workspace_id: str, ticket_id: str, actor_id: str) -> list[Present]:
        """Everyone else with the ticket open now, those replying first (one indexed primary-key range)."""
        now = self.clock.now()
        p = t.presence
        with self.db.read() as conn:
            rows = conn.execute(
                select(p.c.actor_id, p.c.actor_name, p.c.state, p.c.seen_at).where(
                    p.c.workspace_id == workspace_id, p.c.ticket_id == ticket_id, p.c.actor_id != actor_id
                )
            ).all()
        live = [Present(r.actor_name, r.state, r.seen_at) for r in rows if now - r.seen_at <= TTL]
        return sorted(live, key=lambda x: (x.state != "replying", x.name))

    def leave(self, workspace_id: str, ticket_id: str, actor_id: str) -> None:
        p = t.presence
        with self.db.tx() as tx:
            tx.conn.execute(
                delete(p).where(
                    p.c.workspace_id == workspace_id, p.c.ticket_id == ticket_id, p.c.actor_id == actor_id
                )
            )
