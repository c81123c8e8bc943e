"""Writing a unit of work's dirty states to their tables: bulk inserts for new rows, one executemany update
for known ones (a batch of 1,000 operations costs a handful of statements, whatever its size)."""

from __future__ import annotations

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Connection

from deskbase.core import bulk
from deskbase.core import tables as t
from deskbase.core.entity_state import RecordState, RelState


def write_records(conn: Connection, ws: str, states: list[RecordState]) -> None:
    """New rows in bulk inserts, known ones in one executemany update."""
    new = [s for s in states if not s.in_db]
    old = [s for s in states if s.in_db]
    if new:
        bulk.insert_records(
            conn,
            [
                (
                    ws,
                    s.collection,
                    s.id,
                    s.data,
                    s.version,
                    s.deleted,
                    s.external_id,
                    s.external_source,
                    s.created_at,
                    s.updated_at,
                    s.created_by,
                    s.updated_by,
                    s.number,
                )
                for s in new
            ],
        )
    if old:
        bulk.update_records(
            conn,
            [
                (
                    s.data,
                    s.version,
                    s.deleted,
                    s.external_id,
                    s.external_source,
                    s.updated_at,
                    s.updated_by,
                    s.number,
                    ws,
                    s.collection,
                    s.id,
                )
                for s in old
            ],
        )


def write_relationships(conn: Connection, ws: str, states: list[RelState]) -> None:
    """Updates before inserts: a replaced cardinality-one link must release its single_key first."""
    r = t.relationships
    old = [s for s in states if s.in_db]
    new = [s for s in states if not s.in_db]
    if old:
        stmt = (
            update(r)
            .where(r.c.workspace_id == bindparam("k_ws"), r.c.id == bindparam("k_id"))
            .values(
                data=bindparam("data"),
                version=bindparam("version"),
                deleted=bindparam("deleted"),
                single_key=bindparam("single_key"),
                updated_at=bindparam("updated_at"),
                updated_by=bindparam("updated_by"),
            )
        )
        conn.execute(
            stmt,
            [
                {
                    "k_ws": ws,
                    "k_id": s.id,
                    "data": s.data,
                    "version": s.version,
                    "deleted": s.deleted,
                    "single_key": s.single_key,
                    "updated_at": s.updated_at,
                    "updated_by": s.updated_by,
                }
                for s in old
            ],
        )
    if new:
        bulk.insert_relationships(
            conn,
            [
                (
                    ws,
                    s.id,
                    s.rel_type,
                    s.source_collection,
                    s.source_id,
                    s.target_collection,
                    s.target_id,
                    s.data,
                    s.version,
                    s.deleted,
                    s.single_key,
                    s.created_at,
                    s.updated_at,
                    s.created_by,
                    s.updated_by,
                )
                for s in new
            ],
        )
