"""Deferred writes on PostgreSQL: statements whose answer nobody reads, sent together in one round trip.

A ticket create on PostgreSQL wrote its change-log row, its record row and three SLA tables one statement
and one round trip at a time, the transaction open (and its row locks held) across each trip while the
writer's thread waited. Here such writes are queued on the connection instead and sent in one psycopg
pipeline (one network round trip, executed in order) just before the next statement that must be
answered, or with the COMMIT. The transaction's order of statements is unchanged, so what each statement sees
is unchanged too; only an error of a queued write surfaces later, at that next statement or at commit —
still inside the transaction, which then rolls back whole (and `Database.run` retries contention).

Only PostgreSQL connections of the store's write engine queue (`install`); elsewhere `execute` runs at once.
SQLite goes to its DB-API cursor directly (core/bulk.py): it has no round trips to save.
"""

from __future__ import annotations

from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

#: The connection-record key of a connection's queue of deferred (sql, params) writes.
QUEUE = "deskbase_deferred"

Params = list[tuple[Any, ...]] | tuple[Any, ...] | dict[str, Any]


def install(engine: Engine) -> None:
    """Give every connection of `engine` a queue, sent before any other statement SQLAlchemy runs on it or
    its commit, and dropped on rollback and when the connection goes back to the pool."""

    @event.listens_for(engine, "connect")
    def _connect(_dbapi_conn: Any, record: Any) -> None:
        record.info[QUEUE] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Connection, *_args: Any) -> None:
        if conn.info.get(QUEUE):
            run(conn, [])

    @event.listens_for(engine, "commit")
    def _commit(conn: Connection) -> None:  # a transaction not ended by `commit` sends its queue first
        if conn.info.get(QUEUE):
            run(conn, [])

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Connection) -> None:
        queue = conn.info.get(QUEUE)
        if queue:
            queue.clear()

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        queue = record.info.get(QUEUE)
        if queue:
            queue.clear()


def defer(conn: Connection, sql: str, params: Params) -> bool:
    """Queue a write whose answer is not read (False: this connection has no queue; run it now)."""
    queue = conn.info.get(QUEUE)
    if queue is None:
        return False
    queue.append((sql, params))
    return True


def commit(conn: Connection) -> None:
    """Send the queued writes and COMMIT in one round trip. The driver's own commit, which SQLAlchemy calls
    next, then finds no transaction open and sends nothing; should a queued write fail, the pipeline skips
    the COMMIT and the error rolls the transaction back as any other would."""
    raw: Any = conn.connection.driver_connection
    if conn.info.get(QUEUE) or raw.info.transaction_status != TransactionStatus.IDLE:
        run(conn, [("COMMIT", ())])


def _one(cur: Any, sql: str, params: Params) -> None:
    if isinstance(params, list) and len(params) == 1:
        cur.execute(sql, params[0])  # executemany of one row costs a pipeline of its own
    elif isinstance(params, list):
        cur.executemany(sql, params)
    else:
        cur.execute(sql, params)


def run(conn: Connection, statements: list[tuple[str, Params]]) -> Any:
    """Run the queued writes and then `statements` on the DB-API connection itself, in one pipeline when
    there is more than one or the transaction has yet to begin; returns the cursor of the last statement."""
    raw: Any = conn.connection.driver_connection
    queue = conn.info.get(QUEUE)
    todo = [*queue, *statements] if queue else statements
    if queue:
        queue.clear()
    if not todo:
        return None
    last = raw.cursor()
    if len(todo) == 1 and raw.info.transaction_status != TransactionStatus.IDLE:
        _one(last, *todo[0])
        return last
    # In a pipeline the driver's implicit BEGIN (first statement of a transaction) rides along too.
    with raw.pipeline():
        cur = raw.cursor()
        for sql, params in todo[:-1]:
            _one(cur, sql, params)
        _one(last, *todo[-1])
    return last
