"""What an agent's tools keep per token and ticket beside the data: presence, composer drafts, read marks.

Like preferences, these are not records: no schema, no change log, no replica. They are rows keyed by
(workspace, ticket, actor) that each call overwrites, so one helper (`_put`) does every write:

- **Presence** — who has a ticket open and whether they are writing on it (collision warnings). A page sends a
  heartbeat every `BEAT_SECONDS`; a row older than `TTL` means the agent left. Rows live in the store, not in
  process memory, so agents served by different processes see each other; stale rows are pruned as beats
  arrive.
- **Drafts** — an unsent reply or note, saved as the agent writes; dropped on send.
- **Read marks** — the workspace's change sequence when the agent last opened a ticket. A ticket's latest
  activity is the highest of its own version and its `has_response` link versions (a message does not change
  the ticket record), so "touched since you looked" is two indexed queries for a page of tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from deskbase.core import tables as t
from deskbase.core.clock import Clock
from deskbase.core.db import Database

BEAT_SECONDS = 20
TTL = timedelta(seconds=3 * BEAT_SECONDS - 5)  #: two missed beats and a bit: gone
PRUNE_EVERY = timedelta(minutes=1)
STATES = ("viewing", "replying")
DRAFT_MAX_CHARS = 20_000
DRAFT_TYPES = ("reply", "internal_note")


def _key(table: Table, workspace_id: str, ticket_id: str, actor_id: str) -> ColumnElement[bool]:
    c = table.c
    return and_(c.workspace_id == workspace_id, c.ticket_id == ticket_id, c.actor_id == actor_id)


def _put(
    conn: Connection,
    table: Table,
    ids: tuple[str, str, str],
    values: dict[str, Any],
    only_if: ColumnElement[bool] | None = None,
) -> None:
    """Write the row of (workspace, ticket, actor): update it (when `only_if` holds), else insert it. A
    concurrent insert of the same key (the same agent in two tabs) wins; it is as recent as ours."""
    key = _key(table, *ids)
    if conn.execute(
        update(table).where(key, *([only_if] if only_if is not None else [])).values(**values)
    ).rowcount:
        return
    try:
        with conn.begin_nested():
            workspace_id, ticket_id, actor_id = ids
            conn.execute(
                table.insert().values(
                    workspace_id=workspace_id, ticket_id=ticket_id, actor_id=actor_id, **values
                )
            )
    except IntegrityError:  # the row exists: another tab wrote it, or `only_if` kept it as it is
        pass


@dataclass(frozen=True)
class Present:
    name: str
    state: str  #: viewing | replying
    seen_at: datetime


@dataclass(frozen=True)
class Draft:
    body: str
    type: str
    updated_at: datetime


class Presence:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._pruned = datetime.min.replace(tzinfo=clock.now().tzinfo)

    def beat(self, workspace_id: str, ticket_id: str, actor_id: str, name: str, state: str) -> list[Present]:
        """Record that `actor_id` has the ticket open (in `state`); returns the others who do."""
        now = self.clock.now()
        values = {"state": state if state in STATES else "viewing", "seen_at": now, "actor_name": name}
        with self.db.tx() as tx:
            _put(tx.conn, t.presence, (workspace_id, ticket_id, actor_id), values)
            if now - self._pruned >= PRUNE_EVERY:
                self._pruned = now
                tx.conn.execute(delete(t.presence).where(t.presence.c.seen_at < now - TTL))
        return self.others(workspace_id, ticket_id, actor_id)

    def others(self, workspace_id: str, ticket_id: str, actor_id: str) -> list[Present]:
        """Everyone else with the ticket open now, those replying first (one indexed primary-key range)."""
        now = self.clock.now()
        p = t.presence
        with self.db.read() as conn:
            rows = conn.execute(
                select(p.c.actor_name, p.c.state, p.c.seen_at).where(
                    p.c.workspace_id == workspace_id, p.c.ticket_id == ticket_id, p.c.actor_id != actor_id
                )
            ).all()
        live = [Present(r.actor_name, r.state, r.seen_at) for r in rows if now - r.seen_at <= TTL]
        return sorted(live, key=lambda x: (x.state != "replying", x.name))

    def leave(self, workspace_id: str, ticket_id: str, actor_id: str) -> None:
        with self.db.tx() as tx:
            tx.conn.execute(delete(t.presence).where(_key(t.presence, workspace_id, ticket_id, actor_id)))


class Drafts:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def get(self, workspace_id: str, ticket_id: str, actor_id: str) -> Draft | None:
        d = t.drafts
        with self.db.read() as conn:
            row = conn.execute(
                select(d.c.body, d.c.type, d.c.updated_at).where(_key(d, workspace_id, ticket_id, actor_id))
            ).first()
        return Draft(row.body, row.type, row.updated_at) if row is not None else None

    def save(self, workspace_id: str, ticket_id: str, actor_id: str, body: str, kind: str) -> None:
        """Keep the text (an empty one discards the draft); text past `DRAFT_MAX_CHARS` is cut, never refused:
        a heartbeat must not fail."""
        if not body.strip():
            self.discard(workspace_id, ticket_id, actor_id)
            return
        values = {
            "body": body[:DRAFT_MAX_CHARS],
            "type": kind if kind in DRAFT_TYPES else "reply",
            "updated_at": self.clock.now(),
        }
        with self.db.tx() as tx:
            _put(tx.conn, t.drafts, (workspace_id, ticket_id, actor_id), values)

    def discard(self, workspace_id: str, ticket_id: str, actor_id: str) -> None:
        with self.db.tx() as tx:
            tx.conn.execute(delete(t.drafts).where(_key(t.drafts, workspace_id, ticket_id, actor_id)))


class Reads:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def mark(self, workspace_id: str, ticket_ids: list[str], actor_id: str, seq: int) -> None:
        """The agent has seen these tickets as of change `seq` (a mark never moves back)."""
        r = t.ticket_reads
        values = {"seen_seq": seq, "seen_at": self.clock.now()}
        with self.db.tx() as tx:
            for tid in ticket_ids:
                _put(tx.conn, r, (workspace_id, tid, actor_id), values, only_if=r.c.seen_seq < seq)

    def changed_since_seen(self, workspace_id: str, actor_id: str, versions: dict[str, int]) -> set[str]:
        """Of these tickets (id -> record version), those touched after this agent last opened them; tickets
        never opened are not among them (a queue already lists those)."""
        if not versions:
            return set()
        r, rel = t.ticket_reads, t.relationships
        with self.db.read() as conn:
            seen = dict(
                conn.execute(
                    select(r.c.ticket_id, r.c.seen_seq).where(
                        r.c.workspace_id == workspace_id,
                        r.c.actor_id == actor_id,
                        r.c.ticket_id.in_(list(versions)),
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
