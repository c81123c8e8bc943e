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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import bindparam, select

from deskbase.core import state_writes
from deskbase.core import tables as t
from deskbase.core.auth import authorize, permits
from deskbase.core.changelog import Change
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.entity_state import RecordState, RelState, merge_patch, record_from_row
from deskbase.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ValidationFailed,
)
from deskbase.core.file_refs import NONE, FileRefs, ids_of
from deskbase.core.ids import check_record_id, uuid7
from deskbase.core.link_writes import CHUNK, LinkWrites, RecordKey
from deskbase.core.numbering import Counters
from deskbase.core.schemas import errors_of, numbered

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
class UnitOfWork(LinkWrites):
    app: Deskbase
    tx: Tx
    workspace_id: str
    actor: Actor
    #: False for bookkeeping writes that change no data (numbering existing records): the domain's
    #: in-transaction hooks (SLA upkeep) have nothing to recompute; after-commit hooks still run.
    domain_hooks: bool = True
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
            row = self.app.collections.require(self.tx.conn, self.workspace_id, name)
            self._collections[name] = row
        return row

    def rel_type(self, name: str) -> Any:
        row = self._rtypes.get(name)
        if row is None:
            row = self.app.reltypes.require(self.tx.conn, self.workspace_id, name)
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

    # ---- records ----------------------------------------------------------------------------------
    def _may_write(self, coll: str) -> None:
        authorize(self.actor, "write:records", self.workspace_id, coll)

    def _validate(self, coll_row: Any, data: Any, before: dict[str, Any] | None = None) -> None:
        if not isinstance(data, dict):
            raise ValidationFailed(
                "record data must be a JSON object", [{"pointer": "/data", "message": "not an object"}]
            )
        size = len(orjson.dumps(data))
        if size > self.app.settings.max_record_bytes:
            raise PayloadTooLarge(
                f"record data is {size} bytes; the limit is {self.app.settings.max_record_bytes}",
                {"size": size, "limit": self.app.settings.max_record_bytes},
            )
        errors = errors_of(self.app.collections.validator(coll_row), data, "/data")
        if errors:
            raise ValidationFailed(f"data does not match the schema of collection {coll_row.id!r}", errors)
        for check in self.app.hooks.record_checks.get(coll_row.id, ()):
            check(self, before, data)

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

    def _touch(self, st: RecordState, op: str, at: datetime, actor: Actor | None = None) -> None:
        fields, before, after = self._files_of(st)
        if after - before:
            self.file_refs.check(fields, st.data, after - before)
        first = not st.in_db and st.last_change is None
        st.updated_at = at
        st.updated_by = (actor or self.actor).id
        st.dirty = True
        st.last_change = self._log("record", st.collection, st.id, op, st.image(), at, actor)
        st.last_change.first = first

    def _files_of(self, st: RecordState) -> tuple[tuple[str, ...], frozenset[str], frozenset[str]]:
        """The record's file fields, and the file ids it named as stored and names now."""
        fields = self.file_refs.fields(self.collection(st.collection))
        if not fields:
            return fields, NONE, NONE
        return fields, ids_of(st.stored_data, fields), NONE if st.deleted else ids_of(st.data, fields)

    @staticmethod
    def _check_version(st: RecordState, if_match: int | None) -> None:
        if if_match is not None and st.version != if_match:
            raise PreconditionFailed(
                f"record {st.collection}/{st.id} is at version {st.version}, not {if_match}",
                {"current_version": st.version, "expected_version": if_match},
            )

    def upsert_record(
        self,
        coll: str,
        data: Any,
        at: datetime | None,
        rid: str | None = None,
        external_id: str | None = None,
        external_source: str | None = None,
        created_at: datetime | None = None,
        number: int | None = None,
    ) -> tuple[RecordState, bool]:
        """Create, or replace the record named by id or by (external_source, external_id)."""
        self._may_write(coll)
        coll_row = self.collection(coll)
        if (external_id is None) != (external_source is None):
            raise ValidationFailed(
                "external_id and external_source go together",
                [{"pointer": "/external_id", "message": "both or neither"}],
            )
        st: RecordState | None = None
        if external_id is not None and external_source is not None:
            self.prefetch_external([(coll, external_source, external_id)])
            key = self.by_external.get((coll, external_source, external_id))
            st = self.records.get(key) if key else None
            if st is not None and rid is not None and st.id != rid:
                raise Conflict(
                    f"external id {external_source}/{external_id} already names record {st.id}",
                    {"existing_id": st.id},
                )
        if st is None and rid is not None:
            check_record_id(rid)
            st = self.record(coll, rid)
            if (
                st is not None
                and st.external_id is not None
                and external_id is not None
                and (st.external_id != external_id or st.external_source != external_source)
            ):
                raise Conflict(f"record {coll}/{rid} carries another external id", {"id": rid})
        self._validate(coll_row, data, None if st is None or st.deleted else st.data)
        if st is None:
            when = self.when(at)
            if created_at is not None and created_at > when:
                raise ValidationFailed(
                    f"created_at {iso(created_at)} is after the change time {iso(when)}",
                    [{"pointer": "/created_at", "message": "must not be after the change time ('at')"}],
                )
            if rid is None:
                rid = uuid7()
                self.minted.add((coll, rid))
            st = RecordState(
                coll,
                rid,
                data,
                0,
                False,
                external_id,
                external_source,
                created_at or when,
                when,
                self.actor.id,
                self.actor.id,
                number=self._number(coll, number),
                in_db=False,
            )
            self._remember(st)
            self._touch(st, "create", when)
            return st, True
        if number is not None and number != st.number:
            raise Conflict(
                f"record {coll}/{st.id} already has number {st.number}", {"number": st.number, "id": st.id}
            )
        at = self.when(at, st.updated_at, f"record {coll}/{st.id}")
        revived = st.deleted
        st.data = data
        st.deleted = False
        if external_id is not None:
            st.external_id, st.external_source = external_id, external_source
        self._touch(st, "create" if revived else "update", at)
        return st, revived

    def replace_record(
        self, coll: str, rid: str, data: Any, at: datetime | None, if_match: int | None = None
    ) -> RecordState:
        self._may_write(coll)
        st = self.live_record(coll, rid)
        self._check_version(st, if_match)
        self._validate(self.collection(coll), data, st.data)
        when = self.when(at, st.updated_at, f"record {coll}/{rid}")
        st.data = data
        self._touch(st, "update", when)
        return st

    def patch_record(
        self, coll: str, rid: str, patch: Any, at: datetime | None, if_match: int | None = None
    ) -> RecordState:
        self._may_write(coll)
        st = self.live_record(coll, rid)
        self._check_version(st, if_match)
        if not isinstance(patch, dict):
            raise ValidationFailed(
                "a merge patch of record data must be an object",
                [{"pointer": "/data", "message": "not an object"}],
            )
        merged = merge_patch(st.data, patch)
        self._validate(self.collection(coll), merged, st.data)
        when = self.when(at, st.updated_at, f"record {coll}/{rid}")
        st.data = merged
        self._touch(st, "update", when)
        return st

    def rule_patch(self, coll: str, rid: str, patch: dict[str, Any], rule: Actor) -> RecordState:
        """A change a rule makes to a record this unit wrote (an assignment rule filling in the assignee): a
        version of its own at the same instant, logged with the rule as its actor and source, so the history
        tells the rule's choice from the writer's. The rule's data passes the same checks."""
        st = self.live_record(coll, rid)
        merged = merge_patch(st.data, patch)
        self._validate(self.collection(coll), merged, st.data)
        st.data = merged
        self._touch(st, "update", st.updated_at, rule)
        return st

    def delete_record(
        self, coll: str, rid: str, at: datetime | None, if_match: int | None = None
    ) -> RecordState:
        """Soft delete: a new version with deleted=true; its live relationships are soft-deleted too (also
        those whose other end the actor cannot see: a link cannot outlive its record)."""
        self._may_write(coll)
        st = self.live_record(coll, rid)
        self._check_version(st, if_match)
        when = self.when(at, st.updated_at, f"record {coll}/{rid}")
        st.deleted = True
        self._touch(st, "delete", when)
        for rel in self._live_links_of(coll, rid):
            self._delete_rel(rel, max(when, rel.updated_at))
        return st

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
            self.app.run_in_tx_hooks(self.tx, self.changes)
        self.changes = []
        for s in recs:
            s.dirty, s.in_db = False, True
            s.stored_data = None if s.deleted else s.data
        for r in rels:
            r.dirty, r.in_db = False, True
