"""Workspaces: the unit of tenancy. Every other entity lives inside exactly one workspace."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from deskbase.core import people_tables as people
from deskbase.core import pipeline
from deskbase.core import tables as t
from deskbase.core.changelog import Change
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx, lock_statement
from deskbase.core.errors import NotFound, ValidationFailed
from deskbase.core.ids import check_slug

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

DEFAULT_SETTINGS: dict[str, Any] = {"timezone": "UTC", "customer_author_match": ["email", "id"]}
#: A workspace setting: its members sign in to the console with a second factor (core/user_access.py).
REQUIRE_TWO_FACTOR = "require_two_factor"
audit_log = logging.getLogger("deskbase.audit")


def public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "settings": row.settings,
        "version": row.version,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def _check_settings(settings: Any) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise ValidationFailed(
            "settings must be an object", [{"pointer": "/settings", "message": "not an object"}]
        )
    merged = {**DEFAULT_SETTINGS, **settings}
    tz = merged.get("timezone")
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(
            f"unknown time zone {tz!r}",
            [{"pointer": "/settings/timezone", "message": "not an IANA time zone"}],
        ) from exc
    if not isinstance(merged.get(REQUIRE_TWO_FACTOR, False), bool):
        raise ValidationFailed(
            f"{REQUIRE_TWO_FACTOR} must be true or false",
            [{"pointer": f"/settings/{REQUIRE_TWO_FACTOR}", "message": "true or false"}],
        )
    return merged


def requires_two_factor(settings: dict[str, Any] | None) -> bool:
    return bool((settings or {}).get(REQUIRE_TWO_FACTOR))


_BY_ID = select(t.workspaces).where(t.workspaces.c.id == bindparam("id"))


class WorkspaceMark(NamedTuple):
    """What a write reads of its workspace's row (`Workspaces.hold_and_mark`)."""

    settings: dict[str, Any]
    schema_version: int


class Workspaces:
    def __init__(self, app: Deskbase) -> None:
        self.app = app

    @staticmethod
    def hold(tx: Tx, workspace_id: str, exclusive: bool = False) -> None:
        """Hold the workspace's configuration lock until `tx` ends (PostgreSQL; SQLite has one writer).

        Record writes hold it shared and run side by side; a change to what they validate against or derive
        from (the workspace's settings, collections, relationship types, SLA policies and calendars, …)
        holds it exclusively, so no write is checked against a schema that changes before it commits, and a
        schema change sees every record it must check."""
        tx.lock(f"workspace:{workspace_id}", shared=not exclusive)

    def hold_and_mark(self, tx: Tx, workspace_id: str) -> Any:
        """`hold` shared, then the workspace's row as a write needs it (`settings`, `schema_version`): on
        PostgreSQL both statements in one round trip (with the transaction's BEGIN), through the driver."""
        if tx.conn.dialect.name != "postgresql":
            return self.require(tx.conn, workspace_id)
        found = pipeline.run(
            tx.conn,
            [
                lock_statement(f"workspace:{workspace_id}", shared=True),
                ("SELECT settings, schema_version FROM workspaces WHERE id = %s", (workspace_id,)),
            ],
        ).fetchone()
        if found is None:
            raise NotFound(f"workspace {workspace_id!r} not found", {"workspace": workspace_id})
        return WorkspaceMark(found[0], int(found[1]))

    def require(self, conn: Connection, workspace_id: str) -> Any:
        row = conn.execute(_BY_ID, {"id": workspace_id}).first()
        if row is None:
            raise NotFound(f"workspace {workspace_id!r} not found", {"workspace": workspace_id})
        return row

    def get(self, workspace_id: str) -> dict[str, Any]:
        with self.app.db.read() as conn:
            return public(self.require(conn, workspace_id))

    def list(self) -> list[dict[str, Any]]:
        with self.app.db.read() as conn:
            return [public(r) for r in conn.execute(select(t.workspaces).order_by(t.workspaces.c.id))]

    def put(
        self, workspace_id: str, name: str | None, settings: dict[str, Any] | None, actor: Actor
    ) -> tuple[dict, bool]:
        """Create or update; returns (workspace, created)."""
        return self._write(workspace_id, name, lambda old: settings if settings is not None else old, actor)

    def patch(
        self, workspace_id: str, name: str | None, changes: dict[str, Any] | None, actor: Actor
    ) -> dict[str, Any]:
        """Update an existing workspace: its name, and the settings named in `changes` (a merge patch: a
        `null` removes a setting; the others are kept)."""

        def merged(old: dict[str, Any]) -> dict[str, Any]:
            out = {**old, **(changes or {})}
            return {k: v for k, v in out.items() if v is not None}

        return self._write(workspace_id, name, merged, actor, create=False)[0]

    def _write(
        self,
        workspace_id: str,
        name: str | None,
        settings_of: Callable[[dict[str, Any]], dict[str, Any]],
        actor: Actor,
        create: bool = True,
    ) -> tuple[dict, bool]:
        check_slug(workspace_id, "workspace")
        now = self.app.clock.now()
        with self.app.db.tx() as tx:
            self.hold(tx, workspace_id, exclusive=True)
            row = tx.conn.execute(select(t.workspaces).where(t.workspaces.c.id == workspace_id)).first()
            created = row is None
            if created and not create:
                raise NotFound(f"workspace {workspace_id!r} not found", {"workspace": workspace_id})
            before = dict(row.settings or {}) if row else {}
            merged = _check_settings(settings_of(before))
            name = name or (row.name if row else workspace_id)
            image = {"name": name, "settings": merged}
            change = Change(
                workspace_id,
                "workspace",
                None,
                workspace_id,
                "create" if created else "update",
                image,
                actor.id,
                actor.name,
                now,
                source=actor.source,
            )
            self.app.emit(tx, [change])
            values = {**image, "version": change.seq, "schema_version": change.seq, "updated_at": now}
            if created:
                tx.conn.execute(insert(t.workspaces).values(id=workspace_id, created_at=now, **values))
            else:
                tx.conn.execute(
                    update(t.workspaces).where(t.workspaces.c.id == workspace_id).values(**values)
                )
            out = public(tx.conn.execute(select(t.workspaces).where(t.workspaces.c.id == workspace_id)).one())
        if requires_two_factor(before) != requires_two_factor(merged):
            self.app.people.forget()  # who must enrol is part of each member's cached access
            audit_log.info(
                "workspace %s: require_two_factor %s, by %s",
                workspace_id,
                "on" if requires_two_factor(merged) else "off",
                actor.id,
            )
        return out, created

    def delete(self, workspace_id: str, actor: Actor) -> None:
        """Remove the workspace and everything in it; the change log keeps only the deletion itself."""
        now = self.app.clock.now()
        with self.app.db.tx() as tx:
            self.hold(tx, workspace_id, exclusive=True)
            self.require(tx.conn, workspace_id)
            for table in (
                t.records,
                t.relationships,
                t.collections,
                t.relationship_types,
                t.stored_queries,
                t.file_refs,
                t.files,
                t.changes,
                people.roles,
                people.invitations,
            ):
                tx.conn.execute(delete(table).where(table.c.workspace_id == workspace_id))
            self.app.members.drop_workspace(tx, workspace_id)
            tx.conn.execute(delete(t.workspaces).where(t.workspaces.c.id == workspace_id))
            self.app.emit(
                tx,
                [
                    Change(
                        workspace_id,
                        "workspace",
                        None,
                        workspace_id,
                        "delete",
                        None,
                        actor.id,
                        actor.name,
                        now,
                        source=actor.source,
                    )
                ],
            )
