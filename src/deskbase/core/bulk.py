"""Bulk inserts for the write path's hot tables, straight through the DB-API.

SQLAlchemy's per-row type processing costs more than SQLite's own work for 1,000-row batches, so the
unit of work writes change-log, record and relationship rows here: values are prepared once per row in the
exact storage format the SQLAlchemy types use (UtcDateTime, JSON), and `seq`s are allocated up front, so no
RETURNING round trip is needed.

The statements go to the DB-API cursor itself (`execute`): SQLAlchemy's execution context costs ~90 µs a
statement, about twenty times what SQLite needs for a one-row insert, and a single write runs half a dozen
of them. On PostgreSQL the writes whose answer is not read are deferred and sent together in one pipeline
(core/pipeline.py); `Database.tx` sorts the driver's errors into contention (retried) and the rest.

On SQLite, records go in as multi-row INSERTs: a statement firing the `x-search` triggers makes FTS5 flush its
pending index, so one statement per row would write one tiny index segment per row (measured with two
searchable fields: ~130 µs per ticket row instead of ~35 µs).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import JSON
from sqlalchemy.engine import Connection

from deskbase.core import pipeline

#: Bound parameters one SQLite statement may carry (999 before SQLite 3.32).
SQLITE_MAX_PARAMS = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
SQLITE_MAX_ROWS = 500


@lru_cache(maxsize=8192)
def _sqlite_ts(value: datetime) -> str:
    v = value.astimezone(UTC) if value.tzinfo is not UTC else value
    return v.strftime("%Y-%m-%d %H:%M:%S.%f")


def _dumps(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def execute(
    conn: Connection, sql: str, params: list[tuple[Any, ...]] | tuple[Any, ...] = (), defer: bool = False
) -> None:
    """Run one statement (many times for a list of parameter rows) in the connection's transaction;
    `defer`: a write whose outcome nothing in the transaction reads, sent with the next statement (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        if not (defer and pipeline.defer(conn, sql, params)):
            pipeline.run(conn, [(sql, params)])
        return
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if isinstance(params, list):
            cur.executemany(sql, params)
        else:
            cur.execute(sql, params)
    finally:
        cur.close()


def first(conn: Connection, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """The first row of a query (a plain tuple, values as the driver returns them), or None."""
    if conn.dialect.name == "postgresql":
        return pipeline.run(conn, [(sql, params)]).fetchone()
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        return cur.execute(sql, params).fetchone()
    finally:
        cur.close()


class Dialect:
    """How one backend wants parameters and placeholders."""

    def __init__(self, conn: Connection) -> None:
        self.pg = conn.dialect.name == "postgresql"

    def ts(self, value: datetime | None) -> Any:
        if value is None:
            return None
        return value if self.pg else _sqlite_ts(value)

    def ph(self, n: int, json_cols: Sequence[int] = ()) -> str:
        if self.pg:
            return ", ".join("%s::jsonb" if i in json_cols else "%s" for i in range(n))
        return ", ".join("?" for _ in range(n))


#: The store's writer mark (PostgreSQL): a shared transaction lock every transaction that draws change-log
#: seqs holds, keyed by the sequence's qualified name, so the horizon waits for this store's writers only.
WRITER_MARK = "hashtextextended(pg_get_serial_sequence('changes', 'seq'), 0)"


def allocate_seqs(conn: Connection, n: int) -> list[int]:
    """Reserve n change-log sequence numbers, ascending. SQLite: the next n (its one writer holds the write
    lock). PostgreSQL: drawn from the sequence (concurrent writers interleave, so not always consecutive),
    after the transaction has taken its id and the store's writer mark: the change-log horizon
    (core/horizon.py) relies on that order."""
    if conn.dialect.name == "postgresql":  # one round trip: both statements (and queued writes) pipelined
        rows = pipeline.run(
            conn,
            [
                (f"SELECT pg_current_xact_id(), pg_advisory_xact_lock_shared({WRITER_MARK})", ()),
                (
                    "SELECT nextval(pg_get_serial_sequence('changes', 'seq')) FROM generate_series(1, %s)",
                    (n,),
                ),
            ],
        ).fetchall()
        return sorted(int(r[0]) for r in rows)
    row = first(conn, "SELECT seq FROM sqlite_sequence WHERE name = 'changes'")
    start = int(row[0]) if row else 0
    return list(range(start + 1, start + n + 1))


def insert_changes(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """rows: (seq, workspace_id, entity, collection, entity_id, op, data, actor, actor_name, at, source)."""
    d = Dialect(conn)
    sql = (
        "INSERT INTO changes (seq, workspace_id, entity, collection, entity_id, op, data, actor, actor_name, at, "
        f"source) VALUES ({d.ph(11, (6,))})"
    )
    execute(conn, sql, [(*r[:6], _dumps(r[6]), r[7], r[8], d.ts(r[9]), r[10]) for r in rows], defer=True)


def insert_records(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """rows: (workspace_id, collection, id, data, version, deleted, external_id, external_source,
    created_at, updated_at, created_by, updated_by, number)."""
    d = Dialect(conn)
    head = (
        "INSERT INTO records (workspace_id, collection, id, data, version, deleted, external_id, external_source, "
        "created_at, updated_at, created_by, updated_by, number) VALUES "
    )
    values = [
        (*r[:3], _dumps(r[3]), r[4], r[5], r[6], r[7], d.ts(r[8]), d.ts(r[9]), r[10], r[11], r[12])
        for r in rows
    ]
    if d.pg:
        execute(conn, f"{head}({d.ph(13, (3,))})", values, defer=True)
        return
    one = f"({d.ph(13)})"
    step = min(SQLITE_MAX_ROWS, SQLITE_MAX_PARAMS // 13)
    for i in range(0, len(values), step):
        chunk = values[i : i + step]
        execute(conn, head + ", ".join([one] * len(chunk)), tuple(v for row in chunk for v in row))


def update_records(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """New versions of stored records, one executemany. rows: (data, version, deleted, external_id,
    external_source, updated_at, updated_by, number, workspace_id, collection, id)."""
    d = Dialect(conn)
    p = "%s" if d.pg else "?"
    sql = (
        f"UPDATE records SET data = {p}{'::jsonb' if d.pg else ''}, version = {p}, deleted = {p}, "
        f"external_id = {p}, external_source = {p}, updated_at = {p}, updated_by = {p}, number = {p} "
        f"WHERE workspace_id = {p} AND collection = {p} AND id = {p}"
    )
    execute(conn, sql, [(_dumps(r[0]), *r[1:5], d.ts(r[5]), *r[6:]) for r in rows], defer=True)


def insert_relationships(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """rows: (workspace_id, id, rel_type, source_collection, source_id, target_collection, target_id, data,
    version, deleted, single_key, created_at, updated_at, created_by, updated_by)."""
    d = Dialect(conn)
    sql = (
        "INSERT INTO relationships (workspace_id, id, rel_type, source_collection, source_id, target_collection, "
        "target_id, data, version, deleted, single_key, created_at, updated_at, created_by, updated_by) "
        f"VALUES ({d.ph(15, (7,))})"
    )
    execute(
        conn,
        sql,
        [(*r[:7], _dumps(r[7]), r[8], r[9], r[10], d.ts(r[11]), d.ts(r[12]), r[13], r[14]) for r in rows],
        defer=True,
    )


def insert_dicts(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert dict rows into a table through the DB-API, converting JSON and timestamp columns the way the
    table's SQLAlchemy types would (for derived tables written in bulk, e.g. SLA state)."""
    if not rows:
        return
    from deskbase.core.tables import UtcDateTime

    d = Dialect(conn)
    names = list(rows[0])
    cols = [table.c[n] for n in names]
    json_idx = [i for i, col in enumerate(cols) if isinstance(col.type, JSON)]
    convert = [
        _dumps if isinstance(col.type, JSON) else d.ts if isinstance(col.type, UtcDateTime) else None
        for col in cols
    ]
    plain = [i for i, c in enumerate(convert) if c is None]
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({d.ph(len(names), json_idx)})"
    if len(plain) == len(names):
        execute(conn, sql, [tuple(r[n] for n in names) for r in rows], defer=True)
        return
    pairs = list(zip(names, convert, strict=True))
    execute(conn, sql, [tuple(c(r[n]) if c else r[n] for n, c in pairs) for r in rows], defer=True)
