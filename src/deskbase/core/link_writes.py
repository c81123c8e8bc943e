"""The relationship half of the unit of work: staging link creates, re-points and deletes.

A link is checked against its type (allowed collections, data schema, cardinality) and against the live
links of its source, read with one indexed lookup and held `FOR UPDATE` (the source record's row lock, taken
first, orders concurrent writers of the same link). `UnitOfWork` (core/writer.py) mixes this in, so records and
links share one change list and one flush.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, or_, select

from deskbase.core import tables as t
from deskbase.core.auth import authorize, authorize_link, permits
from deskbase.core.entity_state import RecordState, RelState, rel_from_row
from deskbase.core.errors import Conflict, NotFound, ValidationFailed
from deskbase.core.ids import uuid7
from deskbase.core.schemas import errors_of

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase
    from deskbase.core.changelog import Change
    from deskbase.core.context import Actor
    from deskbase.core.db import Tx

RecordKey = tuple[str, str]
CHUNK = 500

_rel = t.relationships
_LINKS_FROM = [
    _rel.c.workspace_id == bindparam("ws"),
    _rel.c.source_collection == bindparam("coll"),
    _rel.c.source_id == bindparam("sid"),
    _rel.c.rel_type == bindparam("rel_type"),
    _rel.c.deleted.is_(False),
]
_LINKS_FROM_ANY = select(_rel).where(*_LINKS_FROM).with_for_update()
_LINKS_FROM_TO = (
    select(_rel)
    .where(
        *_LINKS_FROM,
        _rel.c.target_collection == bindparam("tcoll"),
        _rel.c.target_id == bindparam("tid"),
    )
    .with_for_update()
)


class LinkWrites:
    """Link operations of a unit of work; the state they use is the unit's own (declared here for types)."""

    app: Deskbase
    tx: Tx
    workspace_id: str
    actor: Actor
    rels: dict[str, RelState]
    _live_links_loaded: set[tuple[str, str, str]]
    minted: set[RecordKey]

    if TYPE_CHECKING:

        def collection(self, name: str) -> Any: ...
        def rel_type(self, name: str) -> Any: ...
        def record(self, coll: str, rid: str) -> RecordState | None: ...
        def when(self, at: datetime | None, current: datetime | None = None, what: str = "") -> datetime: ...
        def _log(self, *args: Any) -> Change: ...

    def _live_links_of(self, coll: str, rid: str) -> list[RelState]:
        r = t.relationships
        rows = self.tx.conn.execute(
            select(r)
            .where(
                r.c.workspace_id == self.workspace_id,
                r.c.deleted.is_(False),
                or_(
                    and_(r.c.source_collection == coll, r.c.source_id == rid),
                    and_(r.c.target_collection == coll, r.c.target_id == rid),
                ),
            )
            .with_for_update()
        ).all()
        for row in rows:
            self.rels.setdefault(row.id, rel_from_row(row))
        return [
            s
            for s in self.rels.values()
            if not s.deleted
            and (
                (s.source_collection, s.source_id) == (coll, rid)
                or (s.target_collection, s.target_id) == (coll, rid)
            )
        ]

    def prefetch_links(self, rel_type: str, sources: Iterable[RecordKey]) -> None:
        """Load live links of a type leaving the given sources (cardinality and duplicate checks)."""
        wanted: dict[str, list[str]] = {}
        for coll, sid in sources:
            if (rel_type, coll, sid) not in self._live_links_loaded:
                wanted.setdefault(coll, []).append(sid)
                self._live_links_loaded.add((rel_type, coll, sid))
        r = t.relationships
        for coll, ids in wanted.items():
            for i in range(0, len(ids), CHUNK):
                rows = self.tx.conn.execute(
                    select(r)
                    .where(
                        r.c.workspace_id == self.workspace_id,
                        r.c.source_collection == coll,
                        r.c.source_id.in_(ids[i : i + CHUNK]),
                        r.c.rel_type == rel_type,
                        r.c.deleted.is_(False),
                    )
                    .with_for_update()
                ).all()
                for row in rows:
                    self.rels.setdefault(row.id, rel_from_row(row))

    def _links_from(self, rel_type: str, source: RecordKey, target: RecordKey | None) -> None:
        """The live links of a type from `source` that one new link must know of: all of them for cardinality
        one, else only those to `target` (the duplicate check) — one indexed lookup, however many links the
        source already has (a ticket's 400th reply reads no other reply's link)."""
        params = {"ws": self.workspace_id, "coll": source[0], "sid": source[1], "rel_type": rel_type}
        if target is not None:
            params |= {"tcoll": target[0], "tid": target[1]}
        stmt = _LINKS_FROM_ANY if target is None else _LINKS_FROM_TO
        for row in self.tx.conn.execute(stmt, params).all():
            self.rels.setdefault(row.id, rel_from_row(row))
        if target is None:
            self._live_links_loaded.add((rel_type, *source))

    def _touch_rel(self, st: RelState, op: str, at: datetime) -> None:
        st.updated_at = at
        st.updated_by = self.actor.id
        st.dirty = True
        st.last_change = self._log("relationship", st.rel_type, st.id, op, st.image(), at)

    def _delete_rel(self, st: RelState, at: datetime) -> None:
        st.deleted = True
        st.single_key = None
        self._touch_rel(st, "delete", at)

    def upsert_relationship(
        self,
        rel_type: str,
        source: RecordKey,
        target: RecordKey,
        data: Any,
        at: datetime | None,
        replace: bool = False,
    ) -> tuple[RelState, bool]:
        for end in (source, target):
            authorize(self.actor, "write:relationships", self.workspace_id, end[0])
        rt = self.rel_type(rel_type)
        errors = []
        if rt.source_collections and source[0] not in rt.source_collections:
            errors.append(
                {
                    "pointer": "/source/collection",
                    "message": f"{rel_type} links from {', '.join(rt.source_collections)}, not {source[0]}",
                }
            )
        if rt.target_collections and target[0] not in rt.target_collections:
            errors.append(
                {
                    "pointer": "/target/collection",
                    "message": f"{rel_type} links to {', '.join(rt.target_collections)}, not {target[0]}",
                }
            )
        if errors:
            raise ValidationFailed(f"collection not allowed for relationship type {rel_type!r}", errors)
        for key, pointer in ((source, "/source"), (target, "/target")):
            self.collection(key[0])
            st = self.record(*key)
            if st is None or st.deleted:
                raise ValidationFailed(
                    f"{pointer[1:]} record {key[0]}/{key[1]} does not exist or is deleted",
                    [{"pointer": pointer, "message": "no live record with this id"}],
                )
        if data is not None and not isinstance(data, dict):
            raise ValidationFailed(
                "relationship data must be an object", [{"pointer": "/data", "message": "not an object"}]
            )
        if rt.schema is not None:
            errs = errors_of(
                self.app.validators.get("rel_type", self.workspace_id, rel_type, rt.version, rt.schema),
                data or {},
                "/data",
            )
            if errs:
                raise ValidationFailed(
                    f"data does not match the schema of relationship type {rel_type!r}", errs
                )
        if source in self.minted:  # made by this unit: all its links are the ones staged here
            self._live_links_loaded.add((rel_type, *source))
        elif (rel_type, *source) not in self._live_links_loaded and (
            rt.cardinality == "one" or target not in self.minted
        ):
            self._links_from(rel_type, source, None if rt.cardinality == "one" else target)
        live = [
            s
            for s in self.rels.values()
            if not s.deleted and s.rel_type == rel_type and (s.source_collection, s.source_id) == source
        ]
        for s in live:
            if (s.target_collection, s.target_id) == target:
                if s.data != data:
                    s.data = data
                    self._touch_rel(s, "update", self.when(at, s.updated_at, f"relationship {s.id}"))
                return s, False
        when = self.when(at)
        single_key = f"{rel_type}|{source[0]}|{source[1]}" if rt.cardinality == "one" else None
        if single_key and live:
            if not replace:
                other = live[0]
                if not permits(self.actor, "read:relationships", self.workspace_id, other.target_collection):
                    raise Conflict(
                        f"{source[0]}/{source[1]} already has a live {rel_type!r} link",
                        {"rel_type": rel_type},
                    )
                raise Conflict(
                    f"{source[0]}/{source[1]} already has a live {rel_type!r} link (to "
                    f"{other.target_collection}/{other.target_id}); send replace=true to re-point it",
                    {"existing_relationship": other.id, "rel_type": rel_type},
                )
            for s in live:
                authorize(self.actor, "write:relationships", self.workspace_id, s.target_collection)
                self._delete_rel(s, self.when(at, s.updated_at, f"relationship {s.id}"))
        link = RelState(
            uuid7(),
            rel_type,
            source[0],
            source[1],
            target[0],
            target[1],
            data,
            0,
            False,
            single_key,
            when,
            when,
            self.actor.id,
            self.actor.id,
            in_db=False,
        )
        self.rels[link.id] = link
        self._touch_rel(link, "create", when)
        return link, True

    def delete_relationship(self, rid: str, at: datetime | None) -> RelState:
        st = self.rels.get(rid)
        if st is None:
            r = t.relationships
            row = self.tx.conn.execute(
                select(r).where(r.c.workspace_id == self.workspace_id, r.c.id == rid).with_for_update()
            ).first()
            if row is not None:
                st = rel_from_row(row)
                self.rels[rid] = st
        if st is None or st.deleted:
            raise NotFound(f"relationship {rid!r} not found", {"id": rid})
        authorize_link(
            self.actor,
            "write:relationships",
            self.workspace_id,
            st.source_collection,
            st.target_collection,
            rid,
        )
        self._delete_rel(st, self.when(at, st.updated_at, f"relationship {rid}"))
        return st
