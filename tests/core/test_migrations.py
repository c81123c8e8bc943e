"""Migrations: the schema they build is the one the code declares, and an older store upgrades in place."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from deskbase.core import migrate
from deskbase.core.app import Deskbase
from deskbase.core.context import SYSTEM
from deskbase.core.tables import metadata
from deskbase.events import tables as _event_tables  # noqa: F401  (declares its tables on the metadata)
from deskbase.mail import tables as _mail_tables  # noqa: F401
from deskbase.support import tables as _support_tables  # noqa: F401  (likewise)


def index_defs(core: Deskbase) -> dict[str, str]:
    with core.db.read() as conn:
        if conn.dialect.name == "postgresql":
            sql = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
        else:
            sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        return {name: definition for name, definition in conn.execute(text(sql))}


def test_the_migrated_schema_is_the_declared_one(core: Deskbase) -> None:
    """Tables, columns and declared indexes match tables.py (the x-index expression indexes and the x-search
    trigram indexes — FTS5 tables with their shadow tables on SQLite — are made at run time from collection
    schemas, so they are not declared)."""
    with core.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)

    def dynamic(d: Any) -> bool:
        if not isinstance(d, tuple):
            return False
        if d[0] == "remove_index":
            return bool(d[1].name.startswith(("ix_records_x_", "ix_records_s_")))
        return bool(d[0] == "remove_table" and d[1].name.startswith("records_s_"))

    assert [d for d in diff if not dynamic(d)] == []


def test_an_older_store_gets_the_covering_indexes(core: Deskbase, ws: str) -> None:
    """Back at 0004 with a field index as 0004 made it, then upgraded: every record index carries `deleted`,
    and reads still see exactly the live tickets."""
    core.records.create(
        ws, "tickets", {"data": {"subject": "a", "status": "open", "priority": "low"}}, SYSTEM
    )
    gone, _ = core.records.create(
        ws, "tickets", {"data": {"subject": "b", "status": "open", "priority": "low"}}, SYSTEM
    )
    core.records.delete(ws, "tickets", gone["id"], SYSTEM)
    cfg = migrate._config()
    with core.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
        conn.execute(text("DROP INDEX ix_records_x_status"))
        expr = (
            "(data ->> 'status')" if conn.dialect.name == "postgresql" else "json_extract(data, '$.status')"
        )
        conn.execute(
            text(f"CREATE INDEX ix_records_x_status ON records (workspace_id, collection, {expr}, id)")
        )
    assert "deleted" not in index_defs(core)["ix_records_x_status"]
    migrate.upgrade(core.db)
    defs = index_defs(core)
    for name in ("ix_records_created", "ix_records_updated", "ix_records_x_status", "ix_records_x_priority"):
        assert (
            defs[name]
            .replace('"', "")
            .rstrip(")")
            .split("WHERE")[0]
            .strip()
            .endswith(("deleted", "deleted)"))
        )
    assert "breached" in defs["ix_sla_tickets_due"]
    assert core.records.count(ws, "tickets", {"field": "data.status", "op": "eq", "value": "open"}) == 1
    assert core.records.count(ws, "tickets") == 1
