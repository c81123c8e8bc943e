"""Records: reads (point, query with the filter DSL, history) and single writes through the unit of work."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.engine import Connection

from deskbase.core import changelog, search
from deskbase.core import tables as t
from deskbase.core.auth import permits
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.entity_state import record_from_row
from deskbase.core.errors import Forbidden, InvalidFilter, NotFound
from deskbase.core.filters import Compiler, Sorter, encode_cursor, index_ordered, parse_sort
from deskbase.core.schemas import x_search_fields
from deskbase.core.writer import UnitOfWork

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

T = TypeVar("T")


def lock_rows(conn: Connection, workspace_id: str, collection: str, ids: Iterable[str]) -> None:
    """Lock these records' rows until the transaction ends (PostgreSQL; SQLite has one writer), in id order
    so two writers locking overlapping sets take them in the same order. For state derived from a record
    that is written without loading the record through a unit of work (SLA state after a customer or message
    change, the SLA scheduler): whoever writes the record or that state holds the record's row lock."""
    keys = sorted(set(ids))
    if conn.dialect.name != "postgresql" or not keys:
        return
    r = t.records
    conn.execute(
        select(r.c.id)
        .where(r.c.workspace_id == workspace_id, r.c.collection == collection, r.c.id.in_(keys))
        .order_by(r.c.id)
        .with_for_update()
    ).all()


class Records:
    def __init__(self, app: Deskbase) -> None:
        self.app = app

    # ---- writes -----------------------------------------------------------------------------------
    def run(self, workspace_id: str, actor: Actor, work: Callable[[UnitOfWork], T]) -> T:
        """`work` in a unit of work of its own transaction, flushed on success, rolled back on any error,
        and run again from the start when a concurrent writer made it fail (PostgreSQL: a deadlock, or a
        record or link created by another transaction meanwhile): `work` only stages through the unit."""

        def attempt(tx: Tx) -> T:
            uow = self.begin(tx, workspace_id, actor)
            out = work(uow)
            uow.flush()
            return out

        return self.app.db.run(attempt)

    @contextmanager
    def unit(self, workspace_id: str, actor: Actor) -> Iterator[UnitOfWork]:
        """A unit of work in its own transaction, run once (for callers that cannot be re-run: a
        concurrent-write failure reaches them as `WriteConflict`); prefer `run`."""
        with self.app.db.tx() as tx:
            uow = self.begin(tx, workspace_id, actor)
            yield uow
            uow.flush()

    def begin(self, tx: Tx, workspace_id: str, actor: Actor) -> UnitOfWork:
        """A unit of work in `tx`, holding the workspace's configuration lock shared: collections,
        relationship types and SLA settings do not change under it (their writers hold it exclusively)."""
        ws = self.app.workspaces.hold_and_mark(tx, workspace_id)
        tx.workspace_rows[workspace_id] = ws
        return UnitOfWork(self.app, tx, workspace_id, actor, schema_version=ws.schema_version)

    def change_time(
        self,
        actor: Actor,
        at: datetime | None,
        workspace_id: str | None = None,
        collection: str | None = None,
    ) -> datetime | None:
        """Import mode: only holders of `import` (in this workspace and collection, when given) may date a
        change. Returns `at` once allowed; None (no `at`) means now, which the unit of work takes inside the
        write transaction (`UnitOfWork.when`), never before it."""
        if at is None:
            return None
        allowed = (
            permits(actor, "import", workspace_id, collection)
            if workspace_id is not None
            else actor.may_import
        )
        if not allowed:
            raise Forbidden(
                "setting 'at' or 'created_at' (import mode) needs the import permission",
                {"permission": "import"},
            )
        return at

    def create(
        self,
        workspace_id: str,
        collection: str,
        body: dict[str, Any],
        actor: Actor,
        at: datetime | None = None,
        created_at: datetime | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """POST semantics: create, or replace the record an id / external id names. Returns (record, created)."""
        when = self.change_time(actor, at, workspace_id, collection)
        if created_at is not None:
            self.change_time(actor, created_at, workspace_id, collection)
        st, created = self.run(
            workspace_id,
            actor,
            lambda uow: uow.upsert_record(
                collection,
                body.get("data"),
                when,
                rid=body.get("id"),
                external_id=body.get("external_id"),
                external_source=body.get("external_source"),
                created_at=created_at,
                number=body.get("number"),
            ),
        )
        return st.public(), created

    def _single(
        self,
        workspace_id: str,
        collection: str,
        actor: Actor,
        at: datetime | None,
        op: Callable[[UnitOfWork, datetime | None], Any],
    ) -> dict[str, Any]:
        when = self.change_time(actor, at, workspace_id, collection)
        return self.run(workspace_id, actor, lambda uow: op(uow, when)).public()

    def replace(
        self,
        workspace_id: str,
        collection: str,
        rid: str,
        data: Any,
        actor: Actor,
        if_match: int | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        return self._single(
            workspace_id,
            collection,
            actor,
            at,
            lambda u, w: u.replace_record(collection, rid, data, w, if_match),
        )

    def patch(
        self,
        workspace_id: str,
        collection: str,
        rid: str,
        patch: Any,
        actor: Actor,
        if_match: int | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        return self._single(
            workspace_id,
            collection,
            actor,
            at,
            lambda u, w: u.patch_record(collection, rid, patch, w, if_match),
        )

    def delete(
        self,
        workspace_id: str,
        collection: str,
        rid: str,
        actor: Actor,
        if_match: int | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        return self._single(
            workspace_id, collection, actor, at, lambda u, w: u.delete_record(collection, rid, w, if_match)
        )

    # ---- reads ------------------------------------------------------------------------------------
    def get(
        self, workspace_id: str, collection: str, rid: str, include_deleted: bool = False
    ) -> dict[str, Any]:
        r = t.records
        with self.app.db.read() as conn:
            row = conn.execute(
                select(r).where(r.c.workspace_id == workspace_id, r.c.collection == collection, r.c.id == rid)
            ).first()
            if row is None or (row.deleted and not include_deleted):
                self.app.collections.require(conn, workspace_id, collection)
                raise NotFound(f"record {collection}/{rid} not found", {"collection": collection, "id": rid})
            return record_from_row(row).public()

    def by_number(self, workspace_id: str, collection: str, number: int) -> dict[str, Any]:
        """The live record of a numbered collection with this human number (one unique-index lookup)."""
        r = t.records
        with self.app.db.read() as conn:
            row = conn.execute(
                select(r).where(
                    r.c.workspace_id == workspace_id, r.c.collection == collection, r.c.number == number
                )
            ).first()
            if row is None or row.deleted:
                self.app.collections.require(conn, workspace_id, collection)
                raise NotFound(
                    f"no {collection} record numbered {number}", {"collection": collection, "number": number}
                )
            return record_from_row(row).public()

    def query(
        self,
        workspace_id: str,
        collection: str,
        filter: Any = None,
        sort: Any = None,
        limit: int | None = None,
        cursor: str | None = None,
        include_deleted: bool = False,
    ) -> dict[str, Any]:
        """One page of records in a stable order, resuming after `cursor` (keyset, never OFFSET)."""
        limit = self.app.settings.query_default_limit if limit is None else limit
        if not 1 <= limit <= self.app.settings.query_max_limit:
            raise InvalidFilter(
                f"limit must be between 1 and {self.app.settings.query_max_limit}", {"limit": limit}
            )
        r = t.records
        with self.app.db.read() as conn:
            keys = parse_sort(sort)
            comp, conds = self._conditions(
                conn, workspace_id, collection, filter, include_deleted, early_stop=index_ordered(keys)
            )
            sorter = Sorter(comp, keys)
            if cursor:
                conds.append(sorter.after(cursor))
            q = select(r).where(*conds).order_by(*sorter.order_by()).limit(limit + 1)
            rows = conn.execute(q).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return {
            "data": [record_from_row(x).public() for x in rows],
            "next_cursor": encode_cursor(sorter.row_values(rows[-1])) if more and rows else None,
        }

    def ids(
        self, workspace_id: str, collection: str, filter: Any, limit: int, newest: bool = True
    ) -> list[str]:
        """Ids of the live records matching `filter`, most recently updated first, at most `limit`: a search's
        candidate set, read from the index alone where it can be. `newest` False: in no order, for a filter
        that names its ids (`id in`), so they are looked up by key rather than found by walking an index."""
        r = t.records
        with self.app.db.read() as conn:
            _, conds = self._conditions(conn, workspace_id, collection, filter, False, early_stop=newest)
            q = select(r.c.id).where(*conds)
            if newest:
                q = q.order_by(r.c.updated_at.desc(), r.c.id.desc())
            return [row[0] for row in conn.execute(q.limit(limit))]

    def count(
        self,
        workspace_id: str,
        collection: str,
        filter: Any = None,
        include_deleted: bool = False,
        limit: int | None = None,
    ) -> int:
        """How many records match `filter` — the same conditions `query` compiles, so the indexes that serve
        a list (x-index expressions, created/updated) serve its count too. With `limit`, counting stops
        there ("1,000+"): a filter no index narrows then costs a bounded scan, not one of the collection."""
        if limit is not None and limit < 1:
            raise InvalidFilter("a count limit must be at least 1", {"limit": limit})
        r = t.records
        with self.app.db.read() as conn:
            _, conds = self._conditions(
                conn, workspace_id, collection, filter, include_deleted, early_stop=limit is not None
            )
            if limit is None:
                q = select(func.count()).select_from(r).where(*conds)
            else:
                q = select(func.count()).select_from(select(r.c.id).where(*conds).limit(limit).subquery())
            return int(conn.execute(q).scalar_one())

    def _conditions(
        self,
        conn: Connection,
        workspace_id: str,
        collection: str,
        filter: Any,
        include_deleted: bool,
        early_stop: bool,
    ) -> tuple[Compiler, list[ColumnElement[bool]]]:
        """The WHERE terms of a query or count. The filter is compiled first: when its search candidates are
        few enough to drive the query, the workspace term is kept out of index selection (every records
        index starts with it), so SQLite looks the candidates up instead of walking the collection."""
        r = t.records
        row = self.app.collections.require(conn, workspace_id, collection)
        comp = Compiler(conn.dialect.name, x_search_fields(row.json_schema), conn, early_stop)
        condition = comp.condition(filter) if filter is not None else None
        ws = search.unindexed(r.c.workspace_id) if comp.search_driver else r.c.workspace_id
        conds = [ws == workspace_id, r.c.collection == collection]
        if not include_deleted:
            conds.append(r.c.deleted.is_(False))
        if condition is not None:
            conds.append(condition)
        return comp, conds

    def history(
        self, workspace_id: str, collection: str, rid: str, after: int = 0, limit: int = 100
    ) -> list[dict]:
        with self.app.db.read() as conn:
            self.app.collections.require(conn, workspace_id, collection)
            entries = changelog.history(conn, workspace_id, "record", collection, rid, after, limit)
        if not entries and after == 0:
            raise NotFound(f"record {collection}/{rid} not found", {"collection": collection, "id": rid})
        return entries
