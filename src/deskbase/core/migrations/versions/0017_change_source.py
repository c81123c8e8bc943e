"""The change log records the channel of each write (`changes.source`: api, mcp, hook, sla …).

Revision ID: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column needs no table rebuild on SQLite; entries written before it have no source.
    op.add_column("changes", sa.Column("source", sa.String(16), nullable=True))


def downgrade() -> None:
    # Not a batch rebuild: on SQLite that would recreate `changes` without AUTOINCREMENT, and sequence
    # numbers would start again at 1 (SQLite has had DROP COLUMN since 3.35).
    op.execute("ALTER TABLE changes DROP COLUMN source")
