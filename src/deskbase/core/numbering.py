"""Human record numbers (`#1042`): each numbered collection's counter. Numbers only grow, so a deleted record's
number is never handed out again.

SQLite (one writer): the counter is read once per unit of work, advanced in memory and written back at flush,
in the write's transaction, so numbers are consecutive. PostgreSQL (concurrent writers): a counter row
updated in the write's transaction would be held by each ticket create until it commits, queueing every
create of the collection behind the one before. So each number is drawn by an atomic increment that commits
at once (`Database.autonomous`), and a write that rolls back leaves a gap. An import's own number is not
drawn: the unique index on numbers arbitrates, and drawing continues above the highest number stored.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy.engine import Connection

from deskbase.core import bulk
from deskbase.core.errors import Conflict

#: Where a PostgreSQL counter draws from: a connection that commits each statement.
Autonomous = Callable[[], AbstractContextManager[Connection]]

_DRAW = (
    "INSERT INTO record_numbers AS n (workspace_id, collection, last) "
    "SELECT %(ws)s::varchar, %(coll)s::varchar, COALESCE(max(number), 0) + 1 FROM records "
    "WHERE workspace_id = %(ws)s AND collection = %(coll)s "
    "ON CONFLICT (workspace_id, collection) DO UPDATE SET last = GREATEST(n.last, "
    "(SELECT COALESCE(max(number), 0) FROM records WHERE workspace_id = %(ws)s AND collection = %(coll)s)) + 1 "
    "RETURNING last"
)


class Counters:
    """The counters one unit of work draws from (collection -> [last handed out, last stored; -1: no row])."""

    def __init__(self, conn: Connection, workspace_id: str, autonomous: Autonomous | None = None) -> None:
        """`autonomous`: draw each number on its own (PostgreSQL); None: count in the transaction."""
        self.conn = conn
        self.workspace_id = workspace_id
        self.autonomous = autonomous
        self._last: dict[str, list[int]] = {}

    def _counter(self, collection: str) -> list[int]:
        counter = self._last.get(collection)
        if counter is None:
            last = last_number(self.conn, self.workspace_id, collection)
            counter = self._last[collection] = [last, -1 if last == 0 else last]
        return counter

    def next(self, collection: str) -> int:
        if self.autonomous is not None:
            with self.autonomous() as side:
                return int(
                    side.exec_driver_sql(_DRAW, {"ws": self.workspace_id, "coll": collection}).scalar_one()
                )
        counter = self._counter(collection)
        counter[0] += 1
        return counter[0]

    def claim(self, collection: str, number: int, staged: bool) -> int:
        """Take `number` (an import keeping the number a record had elsewhere); `staged`: this unit already
        gave it to a record. Later numbers continue after the highest taken."""
        if staged or number_taken(self.conn, self.workspace_id, collection, number):
            raise Conflict(
                f"{collection} number {number} is taken", {"number": number, "collection": collection}
            )
        if self.autonomous is None:
            counter = self._counter(collection)
            counter[0] = max(counter[0], number)
        return number

    def store(self) -> None:
        for collection, counter in self._last.items():
            last, stored = counter
            if last != stored:
                store_number(self.conn, self.workspace_id, collection, last, insert=stored == -1)
                counter[1] = last


def last_number(conn: Connection, workspace_id: str, collection: str) -> int:
    """The last number a collection handed out (0 before its first)."""
    ph = "%s" if conn.dialect.name == "postgresql" else "?"
    row = bulk.first(
        conn,
        f"SELECT last FROM record_numbers WHERE workspace_id = {ph} AND collection = {ph}",
        (workspace_id, collection),
    )
    return int(row[0]) if row else 0


def number_taken(conn: Connection, workspace_id: str, collection: str, number: int) -> bool:
    ph = "%s" if conn.dialect.name == "postgresql" else "?"
    return (
        conn.exec_driver_sql(
            f"SELECT 1 FROM records WHERE workspace_id = {ph} AND collection = {ph} AND number = {ph}",
            (workspace_id, collection, number),
        ).first()
        is not None
    )


def store_number(conn: Connection, workspace_id: str, collection: str, last: int, insert: bool) -> None:
    ph = "%s" if conn.dialect.name == "postgresql" else "?"
    if insert:
        sql = f"INSERT INTO record_numbers (last, workspace_id, collection) VALUES ({ph}, {ph}, {ph})"
    else:
        sql = f"UPDATE record_numbers SET last = {ph} WHERE workspace_id = {ph} AND collection = {ph}"
    bulk.execute(conn, sql, (last, workspace_id, collection))
