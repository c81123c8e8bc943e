"""Run Alembic migrations programmatically on the primary store, in one transaction per upgrade."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

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


def pending(db: Database) -> list[str]:
    """Revisions not yet applied; only reads."""
    script = ScriptDirectory.from_config(_config())
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    heads = [rev.revision for rev in script.walk_revisions()]
    return (
        [r for r in reversed(heads) if r not in current]
        if not current
        else [r.revision for r in script.iterate_revisions("head", next(iter(current)))]
    )
