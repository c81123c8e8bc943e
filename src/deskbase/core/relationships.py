"""Relationship reads: traversal from a record by type and direction, with keyset pagination."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select

from deskbase.core import tables as t
from deskbase.core.context import Actor
from deskbase.core.errors import InvalidFilter, NotFound, ValidationFailed
from deskbase.core.writer import rel_from_row

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

DIRECTIONS = ("outgoing", "incoming", "both")


class Relationships:
    def __init__(self, app: Deskbase) -> None:
        self.app = app

    def upsert(
        self, workspace_id: str, body: dict[str, Any], actor: Actor, at: datetime | None = None
    ) -> tuple[dict[str, Any], bool]:
        when = self.app.records.change_time(actor, at)
        src, tgt = _endpoint(body.get("source"), "source"), _endpoint(body.get("target"), "target")
        if not isinstance(body.get("rel_type"), str):
            raise ValidationFailed("rel_type is required", [{"pointer": "/rel_type", "message": "missing"}])
        with self.app.records.unit(workspace_id, actor) as uow:
            st, created = uow.upsert_relationship(
                body.get("rel_type"), src, tgt, body.get("data"), when, bool(body.get("replace"))
            )
        return st.public(), created

    def delete(
        self, workspace_id: str, rel_id: str, actor: Actor, at: datetime | None = None
    ) -> dict[str, Any]:
        when = self.app.records.change_time(actor, at)
        with self.app.records.unit(workspace_id, actor) as uow:
            st = uow.delete_relationship(rel_id, when)
        return st.public()

    def get(self, workspace_id: str, rel_id: str) -> dict[str, Any]:
        r = t.relationships
        with self.app.db.read() as conn:
            row = conn.execute(select(r).where(r.c.workspace_id == workspace_id, r.c.id == rel_id)).first()
            if row is None:
                self.app.workspaces.require(conn, workspace_id)
                raise NotFound(f"relationship {rel_id!r} not found", {"id": rel_id})
            return rel_from_row(row).public()

    def of_record(
        self,
        workspace_id: str,
        collection: str,
        rid: str,
        rel_type: str | None = None,
        direction: str = "outgoing",
        limit: int = 50,
        cursor: str | None = None,
        include_deleted: bool = False,
    ) -> dict[str, Any]:
        """Links leaving (outgoing), arriving at (incoming) or touching (both) a record, ordered by link id."""
        if direction not in DIRECTIONS:
            raise InvalidFilter(f"direction must be one of {', '.join(DIRECTIONS)}", {"direction": direction})
        if not 1 <= limit <= self.app.settings.query_max_limit:
            raise InvalidFilter(
                f"limit must be between 1 and {self.app.settings.query_max_limit}", {"limit": limit}
            )
        r = t.relationships
        with self.app.db.read() as conn:
            self.app.collections.require(conn, workspace_id, collection)
            if rel_type is not None:
                self.app.reltypes.require(conn, workspace_id, rel_type)
            out_c = and_(r.c.source_collection == collection, r.c.source_id == rid)
            in_c = and_(r.c.target_collection == collection, r.c.target_id == rid)
            side = {"outgoing": out_c, "incoming": in_c, "both": or_(out_c, in_c)}[direction]
            conds = [r.c.workspace_id == workspace_id, side]
            if rel_type is not None:
                conds.append(r.c.rel_type == rel_type)
            if not include_deleted:
                conds.append(r.c.deleted.is_(False))
            if cursor:
                conds.append(r.c.id > cursor)
            rows = conn.execute(select(r).where(*conds).order_by(r.c.id).limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return {
            "data": [rel_from_row(x).public() for x in rows],
            "next_cursor": rows[-1].id if more else None,
        }


def _endpoint(value: Any, name: str) -> tuple[str, str]:
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("collection"), str)
        or not isinstance(value.get("id"), str)
    ):
        raise ValidationFailed(
            f"{name} must be {{collection, id}}",
            [{"pointer": f"/{name}", "message": "expected {collection, id}"}],
        )
    return value["collection"], value["id"]
