"""Collections: JSON-Schema-defined record types, with evolution checks, `x-index` expression indexes and
`x-search` trigram indexes."""

from __future__ import annotations

import builtins
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.engine import Connection

from deskbase.core import changelog
from deskbase.core import tables as t
from deskbase.core.changelog import Change
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.errors import Conflict, NotFound, ValidationFailed
from deskbase.core.file_refs import reindex
from deskbase.core.ids import check_slug
from deskbase.core.schemas import (
    compile_schema,
    errors_of,
    file_annotation_errors,
    numbered,
    search_annotation_errors,
    x_file_fields,
    x_index_fields,
    x_search_fields,
)
from deskbase.core.search import ensure_search_index, object_key
from deskbase.core.writer import UnitOfWork

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{3,8}$|^[a-z]{3,20}$")
MAX_REPORTED = 20
NUMBERING_CHUNK = 1000
SCAN_CHUNK = 2000


def public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "icon": row.icon,
        "color": row.color,
        "json_schema": row.json_schema,
        "version": row.version,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


_BY_ID = select(t.collections).where(
    t.collections.c.workspace_id == bindparam("ws"), t.collections.c.id == bindparam("id")
)


class Collections:
    def __init__(self, app: Deskbase) -> None:
        self.app = app

    def require(self, conn: Connection, workspace_id: str, collection: str) -> Any:
        row = conn.execute(_BY_ID, {"ws": workspace_id, "id": collection}).first()
        if row is None:
            self.app.workspaces.require(conn, workspace_id)
            raise NotFound(
                f"collection {collection!r} not found in workspace {workspace_id!r}",
                {"workspace": workspace_id, "collection": collection},
            )
        return row

    def validator(self, row: Any) -> Any:
        return self.app.validators.get("collection", row.workspace_id, row.id, row.version, row.json_schema)

    def get(self, workspace_id: str, collection: str) -> dict[str, Any]:
        with self.app.db.read() as conn:
            return public(self.require(conn, workspace_id, collection))

    def list(self, workspace_id: str) -> list[dict[str, Any]]:
        with self.app.db.read() as conn:
            self.app.workspaces.require(conn, workspace_id)
            q = (
                select(t.collections)
                .where(t.collections.c.workspace_id == workspace_id)
                .order_by(t.collections.c.id)
            )
            return [public(r) for r in conn.execute(q)]

    def history(
        self, workspace_id: str, collection: str, after: int = 0, limit: int = 100
    ) -> builtins.list[dict]:
        with self.app.db.read() as conn:
            self.app.workspaces.require(conn, workspace_id)
            return changelog.history(conn, workspace_id, "collection", None, collection, after, limit)

    def upsert(
        self, workspace_id: str, collection: str, body: dict[str, Any], actor: Actor, force: bool = False
    ) -> tuple[dict[str, Any], bool]:
        """Create or replace a collection; returns (collection, created).

        A schema change that live records would violate is refused (409, with offending ids) unless forced.
        """
        check_slug(collection, "collection")
        schema = body.get("json_schema")
        compile_schema(schema)
        assert isinstance(schema, dict)  # compile_schema refuses anything else
        _check_presentation(body)
        for field in x_index_fields(schema):
            if not FIELD_RE.match(field):
                raise ValidationFailed(
                    f"x-index field {field!r} must be a plain identifier",
                    [{"pointer": f"/json_schema/properties/{field}", "message": "not indexable"}],
                )
        _check_search_annotations(schema)
        file_errors = file_annotation_errors(schema)
        if file_errors:
            raise ValidationFailed(f"invalid x-files annotation: {file_errors[0]['message']}", file_errors)
        now = self.app.clock.now()
        with self.app.db.tx() as tx:
            self.app.workspaces.hold(tx, workspace_id, exclusive=True)
            self.app.workspaces.require(tx.conn, workspace_id)
            row = tx.conn.execute(
                select(t.collections).where(
                    t.collections.c.workspace_id == workspace_id, t.collections.c.id == collection
                )
            ).first()
            created = row is None
            offending: builtins.list[dict[str, Any]] = []
            if row is not None and row.json_schema != schema:
                offending = self._violations(tx.conn, workspace_id, collection, compile_schema(schema))
                if offending and not force:
                    raise Conflict(
                        f"the new schema of {collection!r} would make existing records invalid; fix them or "
                        "resend with force",
                        {
                            "code": "schema_incompatible",
                            "offending_records": offending[:MAX_REPORTED],
                            "offending_count_at_least": len(offending),
                        },
                    )
            # Fields left out of the body keep their current values; an explicit null clears them.
            image = {
                "name": body.get("name") or (row.name if row else collection),
                **{
                    k: body[k] if k in body else (getattr(row, k) if row else None)
                    for k in ("description", "icon", "color")
                },
                "json_schema": schema,
            }
            if row is not None and not created and all(getattr(row, k) == v for k, v in image.items()):
                return public(row), False
            log_image = {**image, "forced": bool(offending)} if offending else image
            change = Change(
                workspace_id,
                "collection",
                None,
                collection,
                "create" if created else "update",
                log_image,
                actor.id,
                actor.name,
                now,
                source=actor.source,
            )
            self.app.emit_definition(tx, change)
            values = {**image, "version": change.seq, "updated_at": now}
            if created:
                tx.conn.execute(
                    insert(t.collections).values(
                        workspace_id=workspace_id, id=collection, created_at=now, **values
                    )
                )
            else:
                tx.conn.execute(
                    update(t.collections)
                    .where(t.collections.c.workspace_id == workspace_id, t.collections.c.id == collection)
                    .values(**values)
                )
            for field in x_index_fields(schema):
                ensure_field_index(tx.conn, field)
            for field in x_search_fields(schema):
                ensure_search_index(tx.conn, field)
            if row is not None and x_file_fields(schema) != x_file_fields(row.json_schema):
                reindex(tx.conn, workspace_id, collection, x_file_fields(schema))
            if numbered(schema) and not (row is not None and numbered(row.json_schema)):
                self._number_existing(tx, workspace_id, collection, actor)
            out = public(self.require(tx.conn, workspace_id, collection))
        return out, created

    def _number_existing(self, tx: Tx, workspace_id: str, collection: str, actor: Actor) -> None:
        """A collection that starts numbering its records numbers the ones it has, oldest first, in the same
        transaction (so numbers follow creation order and no new record can take one in between)."""
        r = t.records
        ids = (
            tx.conn.execute(
                select(r.c.id)
                .where(r.c.workspace_id == workspace_id, r.c.collection == collection, r.c.number.is_(None))
                .order_by(r.c.created_at, r.c.id)
            )
            .scalars()
            .all()
        )
        uow = UnitOfWork(self.app, tx, workspace_id, actor, domain_hooks=False)
        chunk: builtins.list[str] = []
        for rid in ids:
            chunk.append(rid)
            if len(chunk) == NUMBERING_CHUNK:
                self._number_chunk(uow, collection, chunk)
                chunk = []
        if chunk:
            self._number_chunk(uow, collection, chunk)

    @staticmethod
    def _number_chunk(uow: UnitOfWork, collection: str, ids: builtins.list[str]) -> None:
        uow.prefetch_records((collection, rid) for rid in ids)
        for rid in ids:
            uow.assign_number(collection, rid)
        uow.flush()
        uow.records.clear()

    def _violations(
        self, conn: Connection, workspace_id: str, collection: str, validator: Any
    ) -> builtins.list[dict]:
        """Scan live records in key order, in chunks, stopping once enough offenders are found."""
        found: builtins.list[dict[str, Any]] = []
        last = ""
        while len(found) < MAX_REPORTED:
            rows = conn.execute(
                select(t.records.c.id, t.records.c.data)
                .where(
                    t.records.c.workspace_id == workspace_id,
                    t.records.c.collection == collection,
                    t.records.c.deleted.is_(False),
                    t.records.c.id > last,
                )
                .order_by(t.records.c.id)
                .limit(SCAN_CHUNK)
            ).all()
            if not rows:
                break
            for r in rows:
                errs = errors_of(validator, r.data, "/data")
                if errs:
                    found.append({"id": r.id, "errors": errs[:5]})
            last = rows[-1].id
        return found

    def delete(self, workspace_id: str, collection: str, actor: Actor) -> None:
        """Remove a collection with its records and every relationship touching them (one change entry)."""
        now = self.app.clock.now()
        with self.app.db.tx() as tx:
            self.app.workspaces.hold(tx, workspace_id, exclusive=True)
            self.require(tx.conn, workspace_id, collection)
            rel = t.relationships
            tx.conn.execute(
                delete(rel).where(rel.c.workspace_id == workspace_id, rel.c.source_collection == collection)
            )
            tx.conn.execute(
                delete(rel).where(rel.c.workspace_id == workspace_id, rel.c.target_collection == collection)
            )
            tx.conn.execute(
                delete(t.records).where(
                    t.records.c.workspace_id == workspace_id, t.records.c.collection == collection
                )
            )
            tx.conn.execute(
                delete(t.file_refs).where(
                    t.file_refs.c.workspace_id == workspace_id, t.file_refs.c.collection == collection
                )
            )
            tx.conn.execute(
                delete(t.collections).where(
                    t.collections.c.workspace_id == workspace_id, t.collections.c.id == collection
                )
            )
            gone = Change(
                workspace_id,
                "collection",
                None,
                collection,
                "delete",
                None,
                actor.id,
                actor.name,
                now,
                source=actor.source,
            )
            self.app.emit_definition(tx, gone)


def _check_search_annotations(schema: dict[str, Any]) -> None:
    """`x-search` goes on top-level string properties with plain identifier names, nowhere else."""
    errors = search_annotation_errors(schema)
    for field in x_search_fields(schema):
        if not FIELD_RE.match(field):
            name = field.replace("~", "~0").replace("/", "~1")
            errors.append(
                {
                    "pointer": f"/json_schema/properties/{name}",
                    "message": "not searchable: use a plain identifier",
                }
            )
    if errors:
        raise ValidationFailed(f"invalid x-search annotation: {errors[0]['message']}", errors)


def _check_presentation(body: dict[str, Any]) -> None:
    errors = []
    for key, limit in (("name", 200), ("description", 4000), ("icon", 64), ("color", 32)):
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            errors.append(
                {"pointer": f"/{key}", "message": f"must be a string of at most {limit} characters"}
            )
    color = body.get("color")
    if isinstance(color, str) and color and not COLOR_RE.match(color):
        errors.append({"pointer": "/color", "message": "must be a hex colour like #ef4444 or a colour name"})
    if errors:
        raise ValidationFailed("invalid collection fields", errors)


def ensure_field_index(conn: Connection, field: str) -> None:
    """One expression index per indexed field name, shared by every collection carrying that field.

    SQLite: partial on NOT NULL (a query term `expr = ?` implies it, so the planner uses it with bound values).
    PostgreSQL: on `data ->> 'field'`, the text expression the filter compiler emits for string comparisons.
    `deleted` trails `id`: counts read it from the index alone, and the (field, id) keyset order is unchanged.
    """
    name = f"ix_records_x_{object_key(field)}"  # mixed-case or long names: a hash keeps them apart
    if conn.dialect.name == "postgresql":
        expr = f"(data ->> '{field}')"
        conn.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {name} ON records (workspace_id, collection, {expr}, id, deleted)"
            )
        )
    else:
        expr = f"json_extract(data, '$.{field}')"
        conn.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {name} ON records (workspace_id, collection, {expr}, id, deleted) "
                f"WHERE {expr} IS NOT NULL"
            )
        )
