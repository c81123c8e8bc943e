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


def upgrade(db: Database) -> None:
    cfg = _config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
