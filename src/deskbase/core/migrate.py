"""Run Alembic migrations programmatically on the primary store, in one transaction per upgrade."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from deskbase.core.db import Database

_SCRIPTS = str(Path(__file__).parent / "migrations")


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", _SCRIPTS)
    return cfg


#: Any fixed key: processes starting together on one PostgreSQL store (API processes, workers) take turns
#: upgrading, and those after the first find the schema at head.
_PG_MIGRATE_LOCK = 0x6465736B  # "desk"


def upgrade(db: Database) -> None:
    cfg = _config()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATE_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
