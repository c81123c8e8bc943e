"""Records referring to files: which ids a record names, whether it may name them, and the `file_refs` index.

Fields marked `"x-files": true` in a collection's schema hold file ids (one, or a list). A write may name only
live files of its own workspace that its actor may read (so attaching a file never widens who can read it),
and the index of references is updated in the same transaction, only for records whose references changed:
a write without attachments costs nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from deskbase.core import tables as t
from deskbase.core.auth import permits
from deskbase.core.context import Actor
from deskbase.core.errors import ValidationFailed
from deskbase.core.schemas import x_file_fields

NONE: frozenset[str] = frozenset()
CHUNK = 500


def named(data: Any, fields: Iterable[str]) -> list[tuple[str, str]]:
    """(JSON pointer, file id) for each id the record's file fields hold."""
    out: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        return out
    for name in fields:
        value = data.get(name)
        if isinstance(value, str):
            out.append((f"/data/{name}", value))
        elif isinstance(value, list):
            out += [(f"/data/{name}/{i}", v) for i, v in enumerate(value) if isinstance(v, str)]
    return out


def ids_of(data: Any, fields: Iterable[str]) -> frozenset[str]:
    return frozenset(fid for _, fid in named(data, fields))


def may_read(conn: Connection, actor: Actor, workspace_id: str, row: Any) -> bool:
    """May `actor` read this file row? Workspace admins may; otherwise whoever may read a record referring
    to it (one lookup on the index's key prefix), or its uploader while no record refers to it."""
    return row.id in readable(conn, actor, workspace_id, [row])


def readable(conn: Connection, actor: Actor, workspace_id: str, rows: Iterable[Any]) -> set[str]:
    """The ids of the file rows `actor` may read (`may_read`'s rule for many files, in one lookup per
    CHUNK files)."""
    rows = list(rows)
    if permits(actor, "admin", workspace_id, whole_workspace=True):
        return {row.id for row in rows}
    r = t.file_refs
    ids = sorted({row.id for row in rows})
    referring: dict[str, set[str]] = {}
    for i in range(0, len(ids), CHUNK):
        found = conn.execute(
            select(r.c.file_id, r.c.collection)
            .where(r.c.workspace_id == workspace_id, r.c.file_id.in_(ids[i : i + CHUNK]))
            .distinct()
        )
        for fid, collection in found:
            referring.setdefault(fid, set()).add(collection)
    out = set()
    for row in rows:
        collections = referring.get(row.id)
        if not collections:
            if row.created_by == actor.id:
                out.add(row.id)
        elif any(permits(actor, "read:records", workspace_id, c) for c in collections):
            out.add(row.id)
    return out


def is_referenced(conn: Connection, workspace_id: str, file_id: str) -> bool:
    r = t.file_refs
    return (
        conn.execute(
            select(r.c.record_id).where(r.c.workspace_id == workspace_id, r.c.file_id == file_id).limit(1)
        ).first()
        is not None
    )


@dataclass
class FileRefs:
    """One unit of work's view of file references (lives as long as the unit of work)."""

    conn: Connection
    workspace_id: str
    actor: Actor
    _fields: dict[tuple[str, int], tuple[str, ...]] = field(default_factory=dict)
    _files: dict[str, Any] = field(default_factory=dict)
    _own_new: set[str] = field(default_factory=set)

    def created(self, file_ids: Iterable[str]) -> None:
        """Files this unit's actor stored in this transaction: live, of this workspace, referred to by
        nothing yet, so readable by their uploader (`may_read`) — a write naming them reads nothing back."""
        self._own_new.update(file_ids)

    def fields(self, coll_row: Any) -> tuple[str, ...]:
        key = (coll_row.id, coll_row.version)
        found = self._fields.get(key)
        if found is None:
            found = self._fields[key] = x_file_fields(coll_row.json_schema)
        return found

    def check(self, fields: tuple[str, ...], data: Any, added: frozenset[str]) -> None:
        """Refuse (422, a pointer per bad id) ids this write adds that are no live file of the workspace,
        or files the actor may not read. Ids the record already held are not checked again."""
        self._load(added - self._own_new)
        errors = []
        for pointer, fid in named(data, fields):
            if fid not in added or fid in self._own_new:
                continue
            row = self._files.get(fid)
            if row is None:
                errors.append({"pointer": pointer, "message": f"no file {fid!r} in this workspace"})
            elif not may_read(self.conn, self.actor, self.workspace_id, row):
                errors.append({"pointer": pointer, "message": f"file {fid!r} is not readable by this token"})
        if errors:
            raise ValidationFailed(f"{errors[0]['pointer']}: {errors[0]['message']}", errors)

    def _load(self, ids: frozenset[str]) -> None:
        f = t.files
        todo = sorted(i for i in ids if i not in self._files)
        for i in range(0, len(todo), CHUNK):
            rows = self.conn.execute(
                select(f).where(
                    f.c.workspace_id == self.workspace_id,
                    f.c.id.in_(todo[i : i + CHUNK]),
                    f.c.deleted.is_(False),
                )
            ).all()
            self._files.update({r.id: r for r in rows})

    def store(self, changed: list[tuple[str, str, frozenset[str], frozenset[str]]]) -> None:
        """Apply (collection, record id, ids before, ids after) to the index."""
        r = t.file_refs
        gone = [(c, rid, fid) for c, rid, before, after in changed for fid in before - after]
        new = [(c, rid, fid) for c, rid, before, after in changed for fid in after - before]
        for c, rid, fid in gone:
            self.conn.execute(
                delete(r).where(
                    r.c.workspace_id == self.workspace_id,
                    r.c.file_id == fid,
                    r.c.collection == c,
                    r.c.record_id == rid,
                )
            )
        if new:
            self.conn.execute(
                insert(r),
                [
                    {"workspace_id": self.workspace_id, "file_id": fid, "collection": c, "record_id": rid}
                    for c, rid, fid in new
                ],
            )


def reindex(conn: Connection, workspace_id: str, collection: str, fields: tuple[str, ...]) -> None:
    """Rebuild a collection's references after its file fields changed (a scan, on that schema change only):
    the live records' ids that name live files of the workspace."""
    r, rec, f = t.file_refs, t.records, t.files
    conn.execute(delete(r).where(r.c.workspace_id == workspace_id, r.c.collection == collection))
    if not fields:
        return
    last = ""
    while True:
        rows = conn.execute(
            select(rec.c.id, rec.c.data)
            .where(
                rec.c.workspace_id == workspace_id,
                rec.c.collection == collection,
                rec.c.deleted.is_(False),
                rec.c.id > last,
            )
            .order_by(rec.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        wanted = {row.id: ids_of(row.data, fields) for row in rows}
        every = sorted(set().union(*wanted.values()))
        live = set()
        for i in range(0, len(every), CHUNK):
            live |= set(
                conn.execute(
                    select(f.c.id).where(
                        f.c.workspace_id == workspace_id,
                        f.c.id.in_(every[i : i + CHUNK]),
                        f.c.deleted.is_(False),
                    )
                ).scalars()
            )
        refs = [
            {"workspace_id": workspace_id, "file_id": fid, "collection": collection, "record_id": rid}
            for rid, ids in wanted.items()
            for fid in sorted(ids & live)
        ]
        if refs:
            conn.execute(insert(r), refs)
        last = rows[-1].id
