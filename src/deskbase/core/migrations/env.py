"""Alembic environment: always runs on a connection handed over by deskbase (no ini file, no URL guessing)."""

from alembic import context

from deskbase.core.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
