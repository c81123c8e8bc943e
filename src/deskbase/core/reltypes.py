"""Relationship types: which collections a link may join, its metadata schema and its cardinality."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from deskbase.core import tables as t
from deskbase.core.changelog import Change
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.errors import NotFound, ValidationFailed
from deskbase.core.ids import check_slug
from deskbase.core.schemas import compile_schema

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

CARDINALITIES = ("one", "many")
_BY_NAME = select(t.relationship_types).where(
    t.relationship_types.c.workspace_id == bindparam("ws"),
    t.relationship_types.c.rel_type == bindparam("rel_type"),
)


def public(row: Any) -> dict[str, Any]:
    return {
        "rel_type": row.rel_type,
        "description": row.description,
        "source_collections": row.source_collections,
        "target_collections": row.target_collections,
        "schema": row.schema,
        "cardinality": row.cardinality,
        "version": row.version,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


class RelationshipTypes:
    def __init__(self, app: Deskbase) -> None:
        self.app = app

    def require(self, conn: Connection, workspace_id: str, rel_type: str) -> Any:
        row = conn.execute(_BY_NAME, {"ws": workspace_id, "rel_type": rel_type}).first()
        if row is None:
            self.app.workspaces.require(conn, workspace_id)
            raise NotFound(
                f"relationship type {rel_type!r} not found in workspace {workspace_id!r}",
                {"workspace": workspace_id, "rel_type": rel_type},
            )
        return row

    def get(self, workspace_id: str, rel_type: str) -> dict[str, Any]:
        with self.app.db.read() as conn:
            return public(self.require(conn, workspace_id, rel_type))

    def list(self, workspace_id: str) -> list[dict[str, Any]]:
        rt = t.relationship_types
        with self.app.db.read() as conn:
            self.app.workspaces.require(conn, workspace_id)
            q = select(rt).where(rt.c.workspace_id == workspace_id).order_by(rt.c.rel_type)
            return [public(r) for r in conn.execute(q)]

    def upsert(
        self, workspace_id: str, rel_type: str, body: dict[str, Any], actor: Actor
    ) -> tuple[dict, bool]:
        check_slug(rel_type, "relationship type")
        errors = []
        for key in ("source_collections", "target_collections"):
            value = body.get(key)
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                errors.append({"pointer": f"/{key}", "message": "must be a list of collection ids"})
        cardinality = body.get("cardinality")
        if cardinality is not None and cardinality not in CARDINALITIES:
            errors.append({"pointer": "/cardinality", "message": "must be 'one' or 'many'"})
        if errors:
            raise ValidationFailed("invalid relationship type", errors)
        if body.get("schema") is not None:
            compile_schema(body["schema"], "/schema")
        now = self.app.clock.now()
        rt = t.relationship_types
        with self.app.db.tx() as tx:
            self.app.workspaces.hold(tx, workspace_id, exclusive=True)
            self.app.workspaces.require(tx.conn, workspace_id)
            for key in ("source_collections", "target_collections"):
                for cid in body.get(key) or []:
                    self.app.collections.require(tx.conn, workspace_id, cid)
            row = tx.conn.execute(
                select(rt).where(rt.c.workspace_id == workspace_id, rt.c.rel_type == rel_type)
            ).first()
            created = row is None
            # Fields left out of the body keep their current values (defaults on create); null clears.
            defaults: dict[str, Any] = {
                "description": None,
                "source_collections": [],
                "target_collections": [],
                "schema": None,
                "cardinality": "many",
            }
            image = {
                k: body[k] if k in body else (getattr(row, k) if row is not None else d)
                for k, d in defaults.items()
            }
            for key in ("source_collections", "target_collections", "cardinality"):
                if image[key] is None:
                    image[key] = defaults[key]
            if row is not None and all(getattr(row, k) == v for k, v in image.items()):
                return public(row), False
            change = Change(
                workspace_id,
                "relationship_type",
                None,
                rel_type,
                "create" if created else "update",
                image,
                actor.id,
                actor.name,
                now,
                source=actor.source,
            )
            self.app.emit_definition(tx, change)
            values = {**image, "version": change.seq, "updated_at": now}
            if created:
                tx.conn.execute(
                    insert(rt).values(workspace_id=workspace_id, rel_type=rel_type, created_at=now, **values)
                )
            else:
                tx.conn.execute(
                    update(rt)
                    .where(rt.c.workspace_id == workspace_id, rt.c.rel_type == rel_type)
                    .values(**values)
                )
            out = public(self.require(tx.conn, workspace_id, rel_type))
        return out, created

    def delete(self, workspace_id: str, rel_type: str, actor: Actor) -> None:
        """Remove a type and all its relationships (one change entry)."""
        now = self.app.clock.now()
        rt = t.relationship_types
        with self.app.db.tx() as tx:
            self.app.workspaces.hold(tx, workspace_id, exclusive=True)
            self.require(tx.conn, workspace_id, rel_type)
            tx.conn.execute(
                delete(t.relationships).where(
                    t.relationships.c.workspace_id == workspace_id, t.relationships.c.rel_type == rel_type
                )
            )
            tx.conn.execute(delete(rt).where(rt.c.workspace_id == workspace_id, rt.c.rel_type == rel_type))
            gone = Change(
                workspace_id,
                "relationship_type",
                None,
                rel_type,
                "delete",
                None,
                actor.id,
                actor.name,
                now,
                source=actor.source,
            )
            self.app.emit_definition(tx, gone)
