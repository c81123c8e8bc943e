"""Stored SQL queries: named, parameterised queries a workspace saves and runs by name (text only here;
the analytics layer checks them with the sandbox before they are saved)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from deskbase.core import tables as t
from deskbase.core.changelog import Change
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.errors import NotFound, ValidationFailed
from deskbase.core.ids import check_slug

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

sq = t.stored_queries


def public(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "description": row.description,
        "query": row.query,
        "params": row.params,
        "version": row.version,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


class StoredQueries:
    def __init__(self, app: Deskbase) -> None:
        self.app = app

    def _row(self, conn: Connection, workspace_id: str, name: str) -> Any:
        return conn.execute(select(sq).where(sq.c.workspace_id == workspace_id, sq.c.name == name)).first()

    def get(self, workspace_id: str, name: str) -> dict[str, Any]:
        with self.app.db.read() as conn:
            self.app.workspaces.require(conn, workspace_id)
            row = self._row(conn, workspace_id, name)
        if row is None:
            raise NotFound(f"stored query {name!r} not found", {"query": name})
        return public(row)

    def list(self, workspace_id: str) -> list[dict[str, Any]]:
        with self.app.db.read() as conn:
            self.app.workspaces.require(conn, workspace_id)
            rows = conn.execute(select(sq).where(sq.c.workspace_id == workspace_id).order_by(sq.c.name)).all()
        return [public(r) for r in rows]

    def put(
        self,
        workspace_id: str,
        name: str,
        query: str,
        description: str | None,
        params: dict[str, Any],
        actor: Actor,
    ) -> tuple[dict[str, Any], bool]:
        check_slug(name, "stored query")
        if not isinstance(params, dict):
            raise ValidationFailed(
                "params must be an object", [{"pointer": "/params", "message": "not an object"}]
            )
        now = self.app.clock.now()
        image = {"query": query, "description": description, "params": params}
        with self.app.db.tx() as tx:
            tx.lock(f"stored-query:{workspace_id}:{name}")  # two saves of one name take turns
            self.app.workspaces.require(tx.conn, workspace_id)
            row = self._row(tx.conn, workspace_id, name)
            if row is not None and all(getattr(row, k) == v for k, v in image.items()):
                return public(row), False
            change = Change(
                workspace_id,
                "stored_query",
                None,
                name,
                "create" if row is None else "update",
                image,
                actor.id,
                actor.name,
                now,
                source=actor.source,
            )
            self.app.emit(tx, [change])
            values = {**image, "version": change.seq, "updated_at": now}
            if row is None:
                tx.conn.execute(
                    insert(sq).values(workspace_id=workspace_id, name=name, created_at=now, **values)
                )
            else:
                tx.conn.execute(
                    update(sq).where(sq.c.workspace_id == workspace_id, sq.c.name == name).values(**values)
                )
            out = public(self._row(tx.conn, workspace_id, name))
        return out, row is None

    def delete(self, workspace_id: str, name: str, actor: Actor) -> None:
        now = self.app.clock.now()
        with self.app.db.tx() as tx:
            self.app.workspaces.require(tx.conn, workspace_id)
            if self._row(tx.conn, workspace_id, name) is None:
                raise NotFound(f"stored query {name!r} not found", {"query": name})
            tx.conn.execute(delete(sq).where(sq.c.workspace_id == workspace_id, sq.c.name == name))
            self.app.emit(
                tx,
                [
                    Change(
                        workspace_id,
                        "stored_query",
                        None,
                        name,
                        "delete",
                        None,
                        actor.id,
                        actor.name,
                        now,
                        source=actor.source,
                    )
                ],
            )
