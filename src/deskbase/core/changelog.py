"""The append-only change log: one global sequence; history, audit, replication and the change feed read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection

from deskbase.core import bulk
from deskbase.core.clock import iso
from deskbase.core.tables import changes


@dataclass
class Change:
    """One entry before it is written; `seq` (the new version of the entity) is known after `append`."""

    workspace_id: str
    entity: str
    collection: str | None
    entity_id: str
    op: str
    data: dict[str, Any] | None
    actor: str | None
    actor_name: str | None
    at: datetime
    seq: int = 0
    source: str | None = None  #: the channel the actor wrote through (see `Actor.source`)
    #: Not stored: this change made its entity, which had no earlier version, so an in-transaction hook can
    #: take the entity's whole history from this write instead of reading the log back.
    first: bool = False


def append(conn: Connection, entries: list[Change]) -> None:
    """Insert entries in order and fill their `seq`; sequence numbers are reserved up front, so one
    executemany writes them all."""
    if not entries:
        return
    seqs = bulk.allocate_seqs(conn, len(entries))
    for entry, seq in zip(entries, seqs, strict=True):
        entry.seq = seq
    bulk.insert_changes(
        conn,
        [
            (
                c.seq,
                c.workspace_id,
                c.entity,
                c.collection,
                c.entity_id,
                c.op,
                c.data,
                c.actor,
                c.actor_name,
                c.at,
                c.source,
            )
            for c in entries
        ],
    )


def public(row: Any) -> dict[str, Any]:
    """The wire form of a change entry (history, change feed, audit)."""
    return {
        "seq": row.seq,
        "version": row.seq,
        "workspace_id": row.workspace_id,
        "entity": row.entity,
        "collection": row.collection,
        "entity_id": row.entity_id,
        "op": row.op,
        "data": row.data,
        "actor": {"id": row.actor, "name": row.actor_name},
        "source": row.source,
        "at": iso(row.at),
    }


def history(
    conn: Connection,
    workspace_id: str,
    entity: str,
    collection: str | None,
    entity_id: str,
    after: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    cond = and_(
        changes.c.workspace_id == workspace_id,
        changes.c.entity == entity,
        changes.c.collection == collection if collection is not None else changes.c.collection.is_(None),
        changes.c.entity_id == entity_id,
        changes.c.seq > after,
    )
    rows = conn.execute(select(changes).where(cond).order_by(changes.c.seq).limit(limit)).all()
    return [public(r) for r in rows]


def feed(
    conn: Connection,
    workspace_id: str,
    after: int,
    limit: int,
    record_collections: list[str] | None = None,
    until: int | None = None,
) -> list[Any]:
    """Raw change rows of one workspace after `after` (and up to `until`), in seq order (index
    ix_changes_ws_seq). `record_collections` keeps only record changes of those collections (other kinds pass)."""
    conds = [changes.c.workspace_id == workspace_id, changes.c.seq > after]
    if until is not None:
        conds.append(changes.c.seq <= until)
    if record_collections is not None:
        conds.append(or_(changes.c.entity != "record", changes.c.collection.in_(record_collections)))
    q = select(changes).where(*conds).order_by(changes.c.seq).limit(limit)
    return list(conn.execute(q).all())
