"""Per-process cache of the collection and relationship-type rows a write checks against.

Every unit of work already reads its workspace's row (it must exist); that row carries `schema_version`, the
change seq of the last change to the workspace, its collections or its relationship types, set in the same
transaction as that change (`bump`). Rows cached under the version the unit read are reused while it
matches, so a write looks each of them up once per process and schema change instead of once per unit. A
change made by any process moves the version, so every other process's next write reads the new rows:
change seqs are never reused (SQLite AUTOINCREMENT, a PostgreSQL sequence), not even by a workspace deleted
and made again. The rows a unit reads are consistent with the version it read: on SQLite one transaction
sees one snapshot; on PostgreSQL a unit holds the workspace's configuration lock shared and schema changes
hold it exclusively (`Workspaces.hold`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Connection

from deskbase.core import tables as t
from deskbase.core.db import Tx

_BUMP = (
    update(t.workspaces).where(t.workspaces.c.id == bindparam("ws")).values(schema_version=bindparam("seq"))
)

Loader = Callable[[Connection, str, str], Any]


def bump(tx: Tx, workspace_id: str, seq: int) -> None:
    """Mark the workspace's schema changed by the change `seq` (in that change's own transaction). Extensions
    whose configuration is read on every write (SLA policies) call it too, and key their caches by it."""
    tx.conn.execute(_BUMP, {"ws": workspace_id, "seq": seq})
    tx.workspace_rows.pop(workspace_id, None)


class SchemaCache:
    """Rows by (workspace, kind, name), valid for one `schema_version` of their workspace."""

    def __init__(self) -> None:
        self._by_ws: dict[str, tuple[int, dict[tuple[str, str], Any]]] = {}

    def get(
        self, conn: Connection, workspace_id: str, version: int | None, kind: str, name: str, load: Loader
    ) -> Any:
        """The row `load` returns, from the cache when it was read under `version` (None: not cached)."""
        if version is None:
            return load(conn, workspace_id, name)
        hit = self._by_ws.get(workspace_id)
        if hit is None or hit[0] != version:
            hit = (version, {})
            self._by_ws[workspace_id] = hit
        row = hit[1].get((kind, name))
        if row is None:
            row = load(conn, workspace_id, name)  # raises NotFound, which is not cached
            hit[1][(kind, name)] = row
        return row
