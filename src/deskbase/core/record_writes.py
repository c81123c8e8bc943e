"""The record half of the unit of work: staging creates, replaces, merge patches, rule patches and deletes.

Each operation checks the actor's scope and the collection's schema (and the domain's record checks) against
the unit's in-memory state, dates the change after the row lock (`when`), and appends a change entry; the
unit's `flush` (core/writer.py) writes them. `UnitOfWork` mixes this in beside the link half
(core/link_writes.py), so records and links share one change list and one flush.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import orjson

from deskbase.core.auth import authorize
from deskbase.core.clock import iso
from deskbase.core.entity_state import RecordState, RelState, merge_patch
from deskbase.core.errors import Conflict, PayloadTooLarge, PreconditionFailed, ValidationFailed
from deskbase.core.file_refs import NONE, FileRefs, ids_of
from deskbase.core.ids import check_record_id, uuid7
from deskbase.core.link_writes import RecordKey
from deskbase.core.schemas import errors_of

if TYPE_CHECKING:
    from collections.abc import Iterable

    from deskbase.core.app import Deskbase
    from deskbase.core.changelog import Change
    from deskbase.core.context import Actor
    from deskbase.core.writer import UnitOfWork


class RecordWrites:
    """Record operations of a unit of work; the state they use is the unit's own (declared here for types)."""

    app: Deskbase
    workspace_id: str
    actor: Actor
    records: dict[RecordKey, RecordState]
    by_external: dict[tuple[str, str, str], RecordKey]
    file_refs: FileRefs
    minted: set[RecordKey]

    if TYPE_CHECKING:

        def collection(self, name: str) -> Any: ...
        def record(self, coll: str, rid: str) -> RecordState | None: ...
        def live_record(self, coll: str, rid: str, pointer: str = "") -> RecordState: ...
        def when(self, at: datetime | None, current: datetime | None = None, what: str = "") -> datetime: ...
        def _log(
            self,
            entity: str,
            collection: str | None,
            entity_id: str,
            op: str,
            image: dict | None,
            at: datetime,
            actor: Actor | None = None,
        ) -> Change: ...
        def prefetch_external(self, keys: Iterable[tuple[str, str, str]]) -> None: ...
        def _remember(self, st: RecordState) -> None: ...
        def _number(self, coll: str, wanted: int | None) -> int | None: ...
        def _live_links_of(self, coll: str, rid: str) -> list[RelState]: ...
        def _delete_rel(self, rel: RelState, at: datetime) -> None: ...

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
            check(cast("UnitOfWork", self), before, data)

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
