"""Relationship reads: traversal from a record by type and direction, with keyset pagination."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select

from deskbase.core import tables as t
from deskbase.core.auth import authorize_link, collections_for
from deskbase.core.context import SYSTEM, Actor
from deskbase.core.entity_state import rel_from_row
from deskbase.core.errors import InvalidFilter, NotFound, ValidationFailed

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

DIRECTIONS = ("outgoing", "incoming", "both")


class Relationships:
    def __init__(self, app: Deskbase) -> None:
        self.app = app

    def upsert(
        self, workspace_id: str, body: dict[str, Any], actor: Actor, at: datetime | None = None
    ) -> tuple[dict[str, Any], bool]:
        src, tgt = _endpoint(body.get("source"), "source"), _endpoint(body.get("target"), "target")
        when = self.app.records.change_time(actor, at, workspace_id, src[0])
        rel_type = body.get("rel_type")
        if not isinstance(rel_type, str):
            raise ValidationFailed("rel_type is required", [{"pointer": "/rel_type", "message": "missing"}])
        st, created = self.app.records.run(
            workspace_id,
            actor,
            lambda uow: uow.upsert_relationship(
                rel_type, src, tgt, body.get("data"), when, bool(body.get("replace"))
            ),
        )
        return st.public(), created

    def delete(
        self, workspace_id: str, rel_id: str, actor: Actor, at: datetime | None = None
    ) -> dict[str, Any]:
        when = self.app.records.change_time(actor, at, workspace_id)
        return self.app.records.run(
            workspace_id, actor, lambda uow: uow.delete_relationship(rel_id, when)
        ).public()

    def get(self, workspace_id: str, rel_id: str, actor: Actor = SYSTEM) -> dict[str, Any]:
        """One link; a link with an end outside the actor's scope reads as absent."""
        r = t.relationships
        with self.app.db.read() as conn:
            row = conn.execute(select(r).where(r.c.workspace_id == workspace_id, r.c.id == rel_id)).first()
            if row is None:
                self.app.workspaces.require(conn, workspace_id)
                raise NotFound(f"relationship {rel_id!r} not found", {"id": rel_id})
        authorize_link(
            actor, "read:relationships", workspace_id, row.source_collection, row.target_collection, rel_id
        )
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
        actor: Actor = SYSTEM,
    ) -> dict[str, Any]:
        """Links leaving (outgoing), arriving at (incoming) or touching (both) a record, ordered by link id.

        Links whose other end lies in a collection the actor may not read relationships of are left out."""
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
            # Each side names the workspace itself, so "both" can be served by two index seeks (source and
            # target index) instead of a scan of the workspace's links.
            ws_c = r.c.workspace_id == workspace_id
            out_c = and_(ws_c, r.c.source_collection == collection, r.c.source_id == rid)
            in_c = and_(ws_c, r.c.target_collection == collection, r.c.target_id == rid)
            visible = collections_for(actor, "read:relationships", workspace_id)
            if visible is not None:
                out_c = and_(out_c, r.c.target_collection.in_(sorted(visible)))
                in_c = and_(in_c, r.c.source_collection.in_(sorted(visible)))
            side = {"outgoing": out_c, "incoming": in_c, "both": or_(out_c, in_c)}[direction]
            conds = [side]
            if rel_type is not None:
                conds.append(r.c.rel_type == rel_type)
            if not include_deleted:
                conds.append(r.c.deleted.is_(False))
            if cursor:
                conds.append(r.c.id > cursor)
            # Without statistics SQLite would walk an index in link-id order (every link of the workspace or
            # type) to skip a sort; ordering by an expression keeps it on the source/target index, and the
            # record's own links are few to sort.
            order = r.c.id.concat("") if conn.dialect.name == "sqlite" else r.c.id
            rows = conn.execute(select(r).where(*conds).order_by(order).limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return {
            "data": [rel_from_row(x).public() for x in rows],
            "next_cursor": rows[-1].id if more else None,
        }

    def linked(
        self,
        workspace_id: str,
        rel_type: str,
        collection: str,
        ids: list[str],
        direction: str = "outgoing",
        actor: Actor = SYSTEM,
    ) -> list[dict[str, Any]]:
        """Live links of one type leaving (or arriving at) any of `ids` — one indexed query for a whole page
        of records (a list view's customers, say), where `of_record` would cost one query per row."""
        if direction not in ("outgoing", "incoming"):
            raise InvalidFilter("direction must be outgoing or incoming", {"direction": direction})
        if len(ids) > self.app.settings.query_max_limit:
            raise InvalidFilter(
                f"at most {self.app.settings.query_max_limit} ids per call", {"ids": len(ids)}
            )
        if not ids:
            return []
        r = t.relationships
        near, near_id, far = (
            (r.c.source_collection, r.c.source_id, r.c.target_collection)
            if direction == "outgoing"
            else (r.c.target_collection, r.c.target_id, r.c.source_collection)
        )
        conds = [
            r.c.workspace_id == workspace_id,
            near == collection,
            near_id.in_(sorted(set(ids))),
            r.c.rel_type == rel_type,
            r.c.deleted.is_(False),
        ]
        visible = collections_for(actor, "read:relationships", workspace_id)
        if visible is not None:
            conds.append(far.in_(sorted(visible)))
        with self.app.db.read() as conn:
            self.app.collections.require(conn, workspace_id, collection)
            # No ORDER BY: it would steer the planner to the (workspace, rel_type, id) index and a scan of
            # every link of the type; sorting the few rows here keeps the source/target index seek.
            rows = conn.execute(select(r).where(*conds)).all()
        return [rel_from_row(x).public() for x in sorted(rows, key=lambda x: x.id)]


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
