"""Alembic migrations of the primary store, run at open (`deskbase.core.migrate.upgrade`)."""
