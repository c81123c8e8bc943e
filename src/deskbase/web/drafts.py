"""Server-side drafts of the ticket composer: saved as the agent writes (the page's presence heartbeat carries
the composer's text), offered again when they come back to the ticket from any browser, dropped on send.

Drafts are per token and ticket, private to their writer, and not data: no change log, no replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from deskbase.core import tables as t
from deskbase.core.clock import Clock
from deskbase.core.db import Database

MAX_CHARS = 20_000
TYPES = ("reply", "internal_note")


@dataclass(frozen=True)
class Draft:
    body: str
    type: str
    updated_at: datetime


class Drafts:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def get(self, workspace_id: str, ticket_id: str, actor_id: str) -> Draft | None:
        d = t.drafts
        with self.db.read() as conn:
            row = conn.execute(
                select(d.c.body, d.c.type, d.c.updated_at).where(self._key(workspace_id, ticket_id, actor_id))
            ).first()
        return Draft(row.body, row.type, row.updated_at) if row is not None else None

    def save(self, workspace_id: str, ticket_id: str, actor_id: str, body: str, kind: str) -> None:
        """Keep the text (an empty one discards the draft); text past `MAX_CHARS` is cut, never refused: a
        heartbeat must not fail."""
        if not body.strip():
            self.discard(workspace_id, ticket_id, actor_id)
            return
        values = {
            "body": body[:MAX_CHARS],
            "type": kind if kind in TYPES else "reply",
            "updated_at": self.clock.now(),
        }
        d = t.drafts
        with self.db.tx() as tx:
            if tx.conn.execute(
                update(d).where(self._key(workspace_id, ticket_id, actor_id)).values(**values)
            ).rowcount:
                return
            try:
                with tx.conn.begin_nested():
                    tx.conn.execute(
                        d.insert().values(
                            workspace_id=workspace_id, ticket_id=ticket_id, actor_id=actor_id, **values
                        )
                    )
            except IntegrityError:  # another tab of the same agent saved first: theirs is as recent as ours
                pass

    def discard(self, workspace_id: str, ticket_id: str, actor_id: str) -> None:
        with self.db.tx() as tx:
            tx.conn.execute(delete(t.drafts).where(self._key(workspace_id, ticket_id, actor_id)))

    @staticmethod
    def _key(workspace_id: str, ticket_id: str, actor_id: str) -> ColumnElement[bool]:
        d = t.drafts
        return and_(d.c.workspace_id == workspace_id, d.c.ticket_id == ticket_id, d.c.actor_id == actor_id)
