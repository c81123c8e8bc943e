"""The one write path for records and relationships: a unit of work inside one transaction.

Single API writes and 1,000-operation batches both stage their operations here: each operation is validated
against the in-memory state (loaded in bulk), appends a change entry, and `flush` then writes the change log
(one round trip), the entity rows (executemany) and runs the in-transaction hooks. A failure anywhere raises
before commit, so nothing is written. Every staged write checks the actor's scope here too, so no caller
(route, batch, support domain, console) can write where its token does not reach.

Concurrent writers (PostgreSQL): every record and relationship row is loaded `FOR UPDATE`, so a second
writer of the same row waits for the first to commit and then reads what it wrote — no lost update, and the
later change draws the higher seq (a record's versions only grow). Rows that do not exist yet cannot be
locked: two writers creating the same id, external id or cardinality-one link meet on a unique key, and
the unit of work runs again (`Records.run`), finding the other's row. Links are checked and changed only
after their source record is loaded, so the source's row lock orders them too. Pessimistic rather than
version-checked writes: a busy ticket (many agents, the SLA scheduler) queues instead of retrying N ways.

This module holds the unit's state, loading, numbering, change times and flush; the record operations are
core/record_writes.py and the link operations core/link_writes.py (mixed in).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from deskbase.core import state_writes
from deskbase.core import tables as t
from deskbase.core.auth import permits
from deskbase.core.changelog import Change
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.entity_state import RecordState, RelState, record_from_row
from deskbase.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from deskbase.core.file_refs import FileRefs
from deskbase.core.link_writes import CHUNK, LinkWrites, RecordKey
from deskbase.core.numbering import Counters
from deskbase.core.record_writes import RecordWrites
from deskbase.core.schemas import numbered

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase


# Statements built once (building a select costs more Python than SQLite spends running it).
_r = t.records
_RECORDS_BY_ID = (
    select(_r)
    .where(
        _r.c.workspace_id == bindparam("ws"),
        _r.c.collection == bindparam("coll"),
        _r.c.id.in_(bindparam("ids", expanding=True)),
    )
    .with_for_update()
)


@dataclass
class UnitOfWork(RecordWrites, LinkWrites):
    app: Deskbase
    tx: Tx
    workspace_id: str
    actor: Actor
    #: False for bookkeeping writes that change no data (numbering existing records): the domain's
    #: in-transaction hooks (SLA upkeep) have nothing to recompute; after-commit hooks still run.
    domain_hooks: bool = True
    #: The workspace's `schema_version` read at the start of the unit (core/lookups.py); None: no caching.
    schema_version: int | None = None
    records: dict[RecordKey, RecordState] = field(default_factory=dict)
    missing: set[RecordKey] = field(default_factory=set)
    missing_external: set[tuple[str, str, str]] = field(default_factory=set)
    by_external: dict[tuple[str, str, str], RecordKey] = field(default_factory=dict)
    rels: dict[str, RelState] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    _collections: dict[str, Any] = field(default_factory=dict)
    _rtypes: dict[str, Any] = field(default_factory=dict)
    _live_links_loaded: set[tuple[str, str, str]] = field(default_factory=set)
    #: Records whose ids this unit made up (uuid7): no stored row, link or reference can name them yet.
    minted: set[RecordKey] = field(default_factory=set)
    #: What hooks (record checks, before-flush rules) read once per unit and reuse across its operations.
    memo: dict[str, Any] = field(default_factory=dict)
    counters: Counters = field(init=False)
    file_refs: FileRefs = field(init=False)

    def __post_init__(self) -> None:
        db = self.app.db
        self.counters = Counters(self.tx.conn, self.workspace_id, None if db.is_sqlite else db.autonomous)
        self.file_refs = FileRefs(self.tx.conn, self.workspace_id, self.actor)

    def claim(self, *key: str) -> None:
        """Hold the lock named by `key` in this workspace until commit, for a uniqueness no index keeps (one
        customer per email address, one message per Message-ID): two concurrent writers checking "is it there
        yet?" take turns, and the second sees what the first wrote (no-op on SQLite's one writer)."""
        self.tx.lock("\x1f".join(("claim", self.workspace_id, *key)))

    # ---- lookups ----------------------------------------------------------------------------------
    def collection(self, name: str) -> Any:
        row = self._collections.get(name)
        if row is None:
            row = self.app.schema_cache.get(
                self.tx.conn,
                self.workspace_id,
                self.schema_version,
                "collection",
                name,
                self.app.collections.require,
            )
            self._collections[name] = row
        return row

    def rel_type(self, name: str) -> Any:
        row = self._rtypes.get(name)
        if row is None:
            row = self.app.schema_cache.get(
                self.tx.conn,
                self.workspace_id,
                self.schema_version,
                "rel_type",
                name,
                self.app.reltypes.require,
            )
            self._rtypes[name] = row
        return row

    def prefetch_records(self, keys: Iterable[RecordKey]) -> None:
        """Load many records in a few queries (grouped by collection, chunked)."""
        by_coll: dict[str, list[str]] = {}
        for coll, rid in keys:
            if (coll, rid) not in self.records and (coll, rid) not in self.missing:
                by_coll.setdefault(coll, []).append(rid)
        for coll, ids in by_coll.items():
            for i in range(0, len(ids), CHUNK):
                chunk = ids[i : i + CHUNK]
                rows = self.tx.conn.execute(
                    _RECORDS_BY_ID, {"ws": self.workspace_id, "coll": coll, "ids": chunk}
                ).all()
                for r in rows:
                    self._remember(record_from_row(r))
                found = {r.id for r in rows}
                self.missing.update((coll, rid) for rid in chunk if rid not in found)

    def prefetch_external(self, keys: Iterable[tuple[str, str, str]]) -> None:
        by: dict[tuple[str, str], list[str]] = {}
        for coll, source, ext in keys:
            key = (coll, source, ext)
            if key not in self.by_external and key not in self.missing_external:
                by.setdefault((coll, source), []).append(ext)
        for (coll, source), exts in by.items():
            for i in range(0, len(exts), CHUNK):
                rows = self.tx.conn.execute(
                    select(t.records)
                    .where(
                        t.records.c.workspace_id == self.workspace_id,
                        t.records.c.collection == coll,
                        t.records.c.external_source == source,
                        t.records.c.external_id.in_(exts[i : i + CHUNK]),
                    )
                    .with_for_update()
                ).all()
                for r in rows:
                    if (r.collection, r.id) not in self.records:
                        self._remember(record_from_row(r))
                found = {r.external_id for r in rows}
                # Remember misses too, so an import does not look each new external id up twice.
                self.missing_external.update((coll, source, e) for e in exts[i : i + CHUNK] if e not in found)

    def _remember(self, st: RecordState) -> None:
        self.records[(st.collection, st.id)] = st
        self.missing.discard((st.collection, st.id))
        if st.external_id is not None and st.external_source is not None:
            self.by_external[(st.collection, st.external_source, st.external_id)] = (st.collection, st.id)

    def adopt(self, row: Any) -> RecordState:
        """The unit's state of a record row the caller selected itself (`FOR UPDATE`, as the unit's own loads
        are): a lookup by some other key needs no second read by id."""
        key = (row.collection, row.id)
        if key not in self.records:
            self._remember(record_from_row(row))
        return self.records[key]

    def record(self, coll: str, rid: str) -> RecordState | None:
        key = (coll, rid)
        if key not in self.records and key not in self.missing:
            self.prefetch_records([key])
        return self.records.get(key)

    def live_record(self, coll: str, rid: str, pointer: str = "") -> RecordState:
        self.collection(coll)
        st = self.record(coll, rid)
        if st is None or st.deleted:
            raise NotFound(
                f"record {coll}/{rid} not found", {"collection": coll, "id": rid, "pointer": pointer}
            )
        return st

    # ---- numbers ----------------------------------------------------------------------------------
    def _number(self, coll: str, wanted: int | None) -> int | None:
        """The human number of a new record (None outside numbered collections): the next of its collection's
        counter, or (import mode, `import` needed) the number it had elsewhere, when free."""
        if not numbered(self.collection(coll).json_schema):
            if wanted is not None:
                raise ValidationFailed(
                    f"collection {coll!r} does not number its records",
                    [{"pointer": "/number", "message": "only for collections marked x-numbered"}],
                )
            return None
        if wanted is None:
            return self.counters.next(coll)
        if not isinstance(wanted, int) or isinstance(wanted, bool) or not 1 <= wanted < 2**53:
            raise ValidationFailed(
                "number must be a positive integer", [{"pointer": "/number", "message": "not a number"}]
            )
        if not permits(self.actor, "import", self.workspace_id, coll):
            raise Forbidden(
                "setting a record's number (import mode) needs the import permission",
                {"permission": "import"},
            )
        staged = any(s.number == wanted for s in self.records.values() if s.collection == coll)
        return self.counters.claim(coll, wanted, staged)

    def assign_number(self, coll: str, rid: str) -> RecordState | None:
        """Number an existing record of a newly numbered collection: a new version, so the change feed and
        the replica learn the number, with its data and `updated_at` unchanged (numbering is not an edit)."""
        st = self.record(coll, rid)
        if st is None or st.number is not None:
            return st
        st.number = self._number(coll, None)
        st.dirty = True
        st.last_change = self._log("record", coll, rid, "update", st.image(), self.when(None, st.updated_at))
        return st

    # ---- change times -----------------------------------------------------------------------------
    def when(self, at: datetime | None, current: datetime | None = None, what: str = "") -> datetime:
        """The time of one staged change, taken here — inside the write transaction, after the entity's row
        lock — so a writer that waited for the lock never dates its change before the one it waited for.

        `at` None means now, moved up to `current` (the entity's last change time) should the clock lag it,
        so an entity's versions never go back in time. An explicit `at` (import mode) earlier than `current`
        is refused: history, metrics and SLA clocks replay versions in order, and a back-dated version would
        rewrite a past that other changes were computed from."""
        if at is None:
            now = self.app.clock.now()
            return now if current is None or now >= current else current
        if current is not None and at < current:
            raise Conflict(
                f"change time {iso(at)} is before the last change of {what} ({iso(current)}); "
                "a change cannot be dated before the version it replaces",
                {"at": iso(at), "current_updated_at": iso(current), "entity": what},
            )
        return at

    # ---- the change list (records and links) ---------------------------------------------------
    def _log(
        self,
        entity: str,
        collection: str | None,
        entity_id: str,
        op: str,
        image: dict | None,
        at: datetime,
        actor: Actor | None = None,
    ) -> Change:
        by = actor or self.actor
        c = Change(
            self.workspace_id, entity, collection, entity_id, op, image, by.id, by.name, at, source=by.source
        )
        self.changes.append(c)
        return c

    # ---- flush ------------------------------------------------------------------------------------
    def flush(self) -> None:
        if not self.changes:
            return
        if self.domain_hooks:
            for hook in self.app.hooks.before_flush:
                hook(self)
        self.app.emit(self.tx, self.changes, run_hooks=False)
        recs = [s for s in self.records.values() if s.dirty]
        for s in recs:
            assert s.last_change is not None
            s.version = s.last_change.seq
        rels = [s for s in self.rels.values() if s.dirty]
        for r in rels:
            assert r.last_change is not None
            r.version = r.last_change.seq
        self.counters.store()
        state_writes.write_records(self.tx.conn, self.workspace_id, recs)
        state_writes.write_relationships(self.tx.conn, self.workspace_id, rels)
        moved = [(s.collection, s.id, *self._files_of(s)[1:]) for s in recs]
        self.file_refs.store([m for m in moved if m[2] != m[3]])
        if self.domain_hooks:
            self.tx.unit_records = self.records
            try:
                self.app.run_in_tx_hooks(self.tx, self.changes)
            finally:
                self.tx.unit_records = {}
        self.changes = []
        for s in recs:
            s.dirty, s.in_db = False, True
            s.stored_data = None if s.deleted else s.data
        for r in rels:
            r.dirty, r.in_db = False, True
